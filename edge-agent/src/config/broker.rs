//! The broker address: `mqtt://host[:port]` (or `tcp://`), port 1883 by default.

/// Default MQTT port.
pub(super) const DEFAULT_PORT: u16 = 1883;

/// Splits a broker URL into host and port, or says what is wrong with it.
pub(super) fn parse_broker(url: &str) -> Result<(String, u16), String> {
    let rest = match url.split_once("://") {
        Some(("mqtt" | "tcp", rest)) => rest,
        Some((scheme @ ("mqtts" | "ssl" | "ws" | "wss"), _)) => {
            return Err(format!(
                "scheme {scheme}:// is not supported yet (use mqtt://host:port)"
            ));
        }
        Some((scheme, _)) => {
            return Err(format!(
                "unknown scheme {scheme:?} (expected mqtt://host[:port])"
            ));
        }
        None => {
            return Err(format!(
                "{url:?} is not a URL (expected mqtt://host[:port])"
            ));
        }
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if let Some(c) = rest.chars().find(|c| matches!(c, '/' | '?' | '#' | '@')) {
        return Err(format!(
            "unexpected {c:?} in {url:?} (expected mqtt://host[:port]; credentials go in username/password_file)"
        ));
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("unclosed '[' in {url:?}"))?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("expected ':port' after ']' in {url:?}"))?,
            ),
        };
        (host, port)
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    if host.is_empty() {
        return Err(format!("no host in {url:?}"));
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(0) | Err(_) => return Err(format!("invalid port {p:?} (expected 1..=65535)")),
            Ok(n) => n,
        },
    };
    Ok((host.to_owned(), port))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn accepts_mqtt_urls() {
        assert_eq!(
            parse_broker("mqtt://127.0.0.1:11883").unwrap(),
            ("127.0.0.1".into(), 11883)
        );
        assert_eq!(
            parse_broker("mqtt://broker.local").unwrap(),
            ("broker.local".into(), 1883)
        );
        assert_eq!(parse_broker("tcp://h:1/").unwrap(), ("h".into(), 1));
        assert_eq!(
            parse_broker("mqtt://[::1]:1884").unwrap(),
            ("::1".into(), 1884)
        );
        assert_eq!(parse_broker("mqtt://[::1]").unwrap(), ("::1".into(), 1883));
    }

    #[test]
    fn rejects_everything_else_with_a_reason() {
        for (url, needle) in [
            ("127.0.0.1:1883", "not a URL"),
            ("mqtts://h", "not supported"),
            ("http://h", "unknown scheme"),
            ("mqtt://", "no host"),
            ("mqtt://h:0", "invalid port"),
            ("mqtt://h:70000", "invalid port"),
            ("mqtt://u:p@h", "'@'"),
            ("mqtt://h/topic", "'/'"),
        ] {
            let err = parse_broker(url).unwrap_err();
            assert!(err.contains(needle), "{url}: {err}");
        }
    }
}
