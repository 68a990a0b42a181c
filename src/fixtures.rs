//! What the unit tests share that is not AWS: the central destination and the filter they want.

use crate::decision::{Goal, Rules};
use crate::filter::{DesiredFilter, FilterSpec};
use crate::names::{DestinationArn, FilterName};
use crate::plan::ExistingFilters;
use crate::selection::Selection;

/// The central destination the unit tests subscribe to.
pub(crate) const DEST: &str = "arn:aws:logs:us-east-1:999999999999:destination:central";

/// `central-logging` to [`DEST`], with the default settings.
pub(crate) fn desired() -> DesiredFilter {
    spec().to(destination())
}

/// `central-logging` with the default settings, before its destination is known.
pub(crate) fn spec() -> FilterSpec {
    FilterSpec {
        name: FilterName::parse("central-logging").expect("valid"),
        pattern: String::new(),
        role: None,
        distribution: None,
        emit_system_fields: Vec::new(),
    }
}

/// [`DEST`], parsed.
pub(crate) fn destination() -> DestinationArn {
    DestinationArn::parse(DEST).expect("valid")
}

/// Every log group: `*`, nothing excluded.
pub(crate) fn everything() -> Selection {
    Selection::new(&[], &[]).expect("`*` is a valid glob")
}

/// [`spec`]'s filter in `mode` over every group, towards `goal`, writing.
pub(crate) fn rules(mode: ExistingFilters, goal: Goal) -> Rules {
    Rules {
        filter: spec(),
        mode,
        selection: everything(),
        goal,
        created_after_ms: None,
        dry_run: false,
    }
}
