//! The audit's reports: a summary table for a terminal, one JSON object, CSV (one row per gap and
//! foreign destination), and one self-contained HTML page an auditor can attach.

use std::fmt::Write;

use serde::Serialize;
use serde_json::json;

use auto_subscribe::audit::{AccountRegion, Status};

/// How the audit was run, for the report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Run {
    pub started_at: String,
    pub seconds: f64,
    pub role_name: String,
    pub command: String,
}

/// The totals over every account and Region.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Summary {
    pub account_regions: usize,
    pub covered: usize,
    pub with_gaps: usize,
    pub errors: usize,
    pub groups: u64,
    pub eligible: u64,
    pub subscribed: u64,
    pub gaps: usize,
    pub foreign_destinations: usize,
}

pub(crate) fn summary(reports: &[AccountRegion]) -> Summary {
    let mut summary = Summary {
        account_regions: reports.len(),
        ..Summary::default()
    };
    for r in reports {
        match r.status {
            Status::Covered => summary.covered += 1,
            Status::Gaps => summary.with_gaps += 1,
            Status::Error => summary.errors += 1,
        }
        summary.groups += r.groups;
        summary.eligible += r.eligible;
        summary.subscribed += r.subscribed;
        summary.gaps += r.gaps.len();
        summary.foreign_destinations += r.foreign_destinations.len();
    }
    summary
}

fn status(status: Status) -> &'static str {
    match status {
        Status::Covered => "covered",
        Status::Gaps => "gaps",
        Status::Error => "error",
    }
}

/// The summary table, then every gap, foreign destination and error.
pub(crate) fn text(reports: &[AccountRegion], run: &Run) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<14} {:<16} {:<8} {:>9} {:>10} {:>5} {:>8}  notes",
        "account", "region", "status", "eligible", "subscribed", "gaps", "foreign"
    );
    for r in reports {
        let mut notes = Vec::new();
        if let Some(e) = &r.error {
            notes.push(e.clone());
        }
        if r.covered_by_policy > 0 {
            notes.push(format!(
                "{} through the account policy",
                r.covered_by_policy
            ));
        }
        if let Some(c) = &r.canary {
            notes.push(c.note());
        }
        let _ = writeln!(
            out,
            "{:<14} {:<16} {:<8} {:>9} {:>10} {:>5} {:>8}  {}",
            r.account_id,
            r.region,
            status(r.status),
            r.eligible,
            r.subscribed,
            r.gaps.len(),
            r.foreign_destinations.len(),
            notes.join("; ")
        );
    }
    for r in reports {
        for gap in &r.gaps {
            let _ = writeln!(
                out,
                "gap: {} {} {}: {}",
                r.account_id, r.region, gap.log_group_name, gap.reason
            );
        }
        for f in &r.foreign_destinations {
            let _ = writeln!(
                out,
                "foreign: {} {} {} filter {:?} ships to {}",
                r.account_id, r.region, f.log_group_name, f.filter_name, f.destination_arn
            );
        }
    }
    let s = summary(reports);
    let _ = writeln!(
        out,
        "{} account-Regions: {} covered, {} with gaps, {} not audited; {} of {} eligible groups subscribed, {} gaps, {} foreign destinations ({:.1} s, role {})",
        s.account_regions,
        s.covered,
        s.with_gaps,
        s.errors,
        s.subscribed,
        s.eligible,
        s.gaps,
        s.foreign_destinations,
        run.seconds,
        run.role_name
    );
    out
}

/// One JSON object: `summary`, `run`, and one entry per account and Region.
pub(crate) fn json(reports: &[AccountRegion], run: &Run) -> Result<String, serde_json::Error> {
    serde_json::to_string(&json!({
        "summary": summary(reports),
        "run": run,
        "accountRegions": reports,
    }))
}

/// One row per gap, foreign destination and unreadable account-Region.
pub(crate) fn csv(reports: &[AccountRegion]) -> Result<String, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(["accountId", "region", "kind", "logGroupName", "detail"])?;
    for r in reports {
        if let Some(error) = &r.error {
            writer.write_record([&r.account_id, &r.region, "error", "", error])?;
        }
        for gap in &r.gaps {
            writer.write_record([
                &r.account_id,
                &r.region,
                "gap",
                &gap.log_group_name,
                &gap.reason,
            ])?;
        }
        for f in &r.foreign_destinations {
            let detail = format!("filter {} ships to {}", f.filter_name, f.destination_arn);
            writer.write_record([
                &r.account_id,
                &r.region,
                "foreign",
                &f.log_group_name,
                &detail,
            ])?;
        }
    }
    let bytes = writer.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// One table row of `cells`, each escaped.
fn row(out: &mut String, cells: &[&str]) {
    out.push_str("<tr>");
    for cell in cells {
        let _ = write!(out, "<td>{}</td>", escape(cell));
    }
    out.push_str("</tr>\n");
}

/// Text for HTML.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One self-contained page: how and when it was run, coverage per account and Region, then the
/// gaps and foreign destinations.
pub(crate) fn html(reports: &[AccountRegion], run: &Run) -> String {
    let s = summary(reports);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>auto-subscribe coverage audit</title>\
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}\
td,th{{border:1px solid #999;padding:.3em .6em;text-align:left}}.covered{{background:#dfd}}.gaps{{background:#fdd}}.error{{background:#fed}}</style>\
</head><body>\n<h1>CloudWatch Logs coverage audit</h1>\n<p>Run {} for {:.1} s with role <code>{}</code>: <code>{}</code></p>\n\
<p>{} account-Regions: {} covered, {} with gaps, {} not audited. {} of {} eligible log groups ship to the central destination; {} gaps; {} foreign destinations.</p>\n",
        escape(&run.started_at),
        run.seconds,
        escape(&run.role_name),
        escape(&run.command),
        s.account_regions,
        s.covered,
        s.with_gaps,
        s.errors,
        s.subscribed,
        s.eligible,
        s.gaps,
        s.foreign_destinations
    );
    out.push_str("<h2>Coverage</h2>\n<table><tr><th>account</th><th>region</th><th>status</th><th>destination</th><th>eligible</th><th>subscribed</th><th>gaps</th><th>foreign</th><th>account policies</th><th>notes</th></tr>\n");
    for r in reports {
        let policies: Vec<String> = r
            .account_policies
            .iter()
            .map(|p| format!("{} → {}", p.policy_name, p.destination_arn))
            .collect();
        let mut notes = r.error.clone().unwrap_or_default();
        if let Some(c) = &r.canary {
            notes.push_str(&c.note());
        }
        let _ = writeln!(
            out,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            status(r.status),
            escape(&r.account_id),
            escape(&r.region),
            status(r.status),
            escape(r.destination_arn.as_ref().map_or("", |d| d.as_str())),
            r.eligible,
            r.subscribed,
            r.gaps.len(),
            r.foreign_destinations.len(),
            escape(&policies.join(", ")),
            escape(&notes)
        );
    }
    out.push_str("</table>\n<h2>Gaps</h2>\n<table><tr><th>account</th><th>region</th><th>log group</th><th>reason</th></tr>\n");
    for r in reports {
        for gap in &r.gaps {
            row(
                &mut out,
                &[&r.account_id, &r.region, &gap.log_group_name, &gap.reason],
            );
        }
    }
    out.push_str("</table>\n<h2>Foreign destinations</h2>\n<table><tr><th>account</th><th>region</th><th>log group</th><th>filter</th><th>destination</th></tr>\n");
    for r in reports {
        for f in &r.foreign_destinations {
            row(
                &mut out,
                &[
                    &r.account_id,
                    &r.region,
                    &f.log_group_name,
                    &f.filter_name,
                    &f.destination_arn,
                ],
            );
        }
    }
    out.push_str("</table>\n</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_what_aws_names() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
