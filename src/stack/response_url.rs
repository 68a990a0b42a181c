//! Where the function may PUT CloudFormation's answer. A custom resource request names a
//! pre-signed S3 URL, and anyone who can invoke the function can send one, so the URL is checked
//! before anything is sent: HTTPS, on the default port, no user info, to an S3 host of the
//! function's own partition; or, when `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` is set (a local
//! AWS), exactly that endpoint's scheme, host and port. The URL is a secret (its signature lets
//! anyone answer for the stack), so only its host is ever shown.

use hyper::Uri;

/// The DNS suffix of a partition's public endpoints.
fn dns_suffix(partition: &str) -> Option<&'static str> {
    Some(match partition {
        "aws" | "aws-us-gov" => "amazonaws.com",
        "aws-cn" => "amazonaws.com.cn",
        "aws-iso" => "c2s.ic.gov",
        "aws-iso-b" => "sc2s.sgov.gov",
        "aws-iso-e" => "cloud.adc-e.uk",
        "aws-iso-f" => "csp.hci.ic.gov",
        "aws-eusc" => "amazonaws.eu",
        _ => return None,
    })
}

/// A response URL the function may PUT to.
#[derive(Debug, Clone)]
pub struct ResponseUrl {
    uri: Uri,
}

/// Endpoints configured for the SDK (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, read at init),
/// whose origin a response URL may also use.
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    pub s3: Option<String>,
    pub all: Option<String>,
}

impl ResponseUrl {
    /// Checks `url` for a function in `partition`; the error names the host, never the URL.
    pub fn check(url: &str, partition: &str, endpoints: &Endpoints) -> Result<Self, String> {
        let uri: Uri = url
            .parse()
            .map_err(|_| "the ResponseURL is not a URL".to_owned())?;
        let host = uri.host().unwrap_or_default().to_ascii_lowercase();
        let shown = if host.is_empty() { "none" } else { &host };
        let Some(authority) = uri.authority() else {
            return Err("the ResponseURL has no host".into());
        };
        if authority.as_str().contains('@') {
            return Err(format!("the ResponseURL (host {shown}) carries user info"));
        }
        // A configured endpoint (a local AWS in tests): exactly its scheme, host and port.
        let endpoint = endpoints.s3.as_ref().or(endpoints.all.as_ref());
        if let Some(Ok(endpoint)) = endpoint.map(|e| e.parse::<Uri>())
            && same_origin(&uri, &endpoint)
        {
            return Ok(Self { uri });
        }
        if uri.scheme_str() != Some("https") {
            return Err(format!(
                "the ResponseURL (host {shown}) is not HTTPS; CloudFormation's pre-signed URLs are"
            ));
        }
        if uri.port_u16().is_some_and(|port| port != 443) {
            return Err(format!(
                "the ResponseURL (host {shown}) names port {}, not 443",
                uri.port_u16().unwrap_or_default()
            ));
        }
        let Some(suffix) = dns_suffix(partition) else {
            return Err(format!("unknown partition {partition:?}"));
        };
        let is_s3 = host
            .strip_suffix(suffix)
            .and_then(|rest| rest.strip_suffix('.'))
            .is_some_and(|rest| {
                rest.split('.')
                    .any(|label| label == "s3" || label.starts_with("s3-"))
            });
        if !is_s3 {
            return Err(format!(
                "the ResponseURL's host {shown} is not an Amazon S3 host of partition {partition} (*.s3.*{suffix})"
            ));
        }
        Ok(Self { uri })
    }

    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The host, for log lines and errors: the rest of the URL is a secret.
    pub fn host(&self) -> &str {
        self.uri.host().unwrap_or_default()
    }
}

fn same_origin(a: &Uri, b: &Uri) -> bool {
    let port = |u: &Uri| {
        u.port_u16().or(match u.scheme_str() {
            Some("https") => Some(443),
            Some("http") => Some(80),
            _ => None,
        })
    };
    a.scheme_str().is_some()
        && a.scheme_str() == b.scheme_str()
        && a.host()
            .zip(b.host())
            .is_some_and(|(x, y)| x.eq_ignore_ascii_case(y))
        && port(a) == port(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNED: &str = "?X-Amz-Signature=secret123";

    fn check(url: &str, partition: &str, endpoints: &Endpoints) -> Result<String, String> {
        ResponseUrl::check(url, partition, endpoints).map(|u| u.host().to_owned())
    }

    #[test]
    fn cloudformation_s3_urls_of_the_partition_pass_and_everything_else_is_refused() {
        let none = Endpoints::default();
        let pass = [
            (
                "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/arn%3Aaws/x",
                "aws",
            ),
            (
                "https://cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com/x",
                "aws",
            ),
            ("https://s3.us-east-1.amazonaws.com/bucket/key", "aws"),
            ("https://s3-external-1.amazonaws.com/bucket/key", "aws"),
            (
                "https://bucket.s3.cn-north-1.amazonaws.com.cn/key",
                "aws-cn",
            ),
            (
                "https://bucket.s3.us-gov-west-1.amazonaws.com:443/key",
                "aws-us-gov",
            ),
        ];
        for (url, partition) in pass {
            let url = format!("{url}{SIGNED}");
            assert!(check(&url, partition, &none).is_ok(), "{url}");
        }
        let refuse = [
            ("http://bucket.s3.amazonaws.com/key", "aws", "not HTTPS"),
            (
                "https://attacker.example/key",
                "aws",
                "not an Amazon S3 host",
            ),
            (
                "https://s3.amazonaws.com.attacker.example/k",
                "aws",
                "not an Amazon S3 host",
            ),
            (
                "https://sqs.us-east-1.amazonaws.com/k",
                "aws",
                "not an Amazon S3 host",
            ),
            (
                "https://bucket.s3.amazonaws.com/key",
                "aws-cn",
                "not an Amazon S3 host",
            ),
            (
                "https://bucket.s3.amazonaws.com:8443/key",
                "aws",
                "port 8443",
            ),
            (
                "https://user:pw@bucket.s3.amazonaws.com/key",
                "aws",
                "user info",
            ),
            (
                "https://169.254.169.254/latest/meta-data",
                "aws",
                "not an Amazon S3 host",
            ),
            ("not a url at all", "aws", "not"),
            ("/relative/path", "aws", "no host"),
        ];
        for (url, partition, why) in refuse {
            let url = format!("{url}{SIGNED}");
            let error = check(&url, partition, &none).expect_err(&url);
            assert!(error.contains(why), "{url}: {error}");
            assert!(
                !error.contains("secret123") && !error.contains("/key"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_configured_endpoint_admits_exactly_its_origin() {
        let local = Endpoints {
            s3: Some("http://127.0.0.1:4566".into()),
            all: Some("http://127.0.0.1:5000".into()),
        };
        assert!(check("http://127.0.0.1:4566/cfn/answer", "aws", &local).is_ok());
        for url in [
            "http://127.0.0.1:5000/x", // AWS_ENDPOINT_URL_S3 wins over AWS_ENDPOINT_URL
            "http://127.0.0.1:4567/x",
            "https://127.0.0.1:4566/x",
            "http://localhost:4566/x",
        ] {
            assert!(check(url, "aws", &local).is_err(), "{url}");
        }
        let only_all = Endpoints {
            s3: None,
            all: Some("http://127.0.0.1:5000/".into()),
        };
        assert!(check("http://127.0.0.1:5000/x", "aws", &only_all).is_ok());
    }
}
