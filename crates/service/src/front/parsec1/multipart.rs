//! The one shape of `multipart/form-data` Parsec.1 clients send (spec §5.1): a body with a
//! field named `cmd` holding the BOSS call. Only what finding that field needs is read: the
//! boundary, each part's `Content-Disposition` name, and the part's bytes, borrowed from the
//! body (no copy, no allocation).

/// The boundary of a `multipart/form-data` content type, if it is one.
pub fn boundary(content_type: &str) -> Option<&str> {
    let mut params = content_type.split(';');
    let kind = params.next()?.trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|p| {
        let (name, value) = p.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        // RFC 2046: 1 to 70 characters.
        (1..=70).contains(&value.len()).then_some(value)
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

/// The content of the part named `field`, if the body has one.
pub fn field<'a>(body: &'a [u8], boundary: &str, field: &str) -> Option<&'a [u8]> {
    let delimiter = format!("--{boundary}");
    let mut rest = &body[find(body, delimiter.as_bytes())? + delimiter.len()..];
    loop {
        // After a delimiter: "--" ends the body, CRLF starts a part.
        rest = rest.strip_prefix(b"\r\n")?;
        let headers_end = find(rest, b"\r\n\r\n")?;
        let (headers, after) = (&rest[..headers_end], &rest[headers_end + 4..]);
        let next = find(after, format!("\r\n{delimiter}").as_bytes())?;
        if part_name(headers) == Some(field) {
            return Some(&after[..next]);
        }
        rest = &after[next + 2 + delimiter.len()..];
    }
}

/// The `name` parameter of a part's `Content-Disposition: form-data` header.
fn part_name(headers: &[u8]) -> Option<&str> {
    let headers = std::str::from_utf8(headers).ok()?;
    headers.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        if !name.trim().eq_ignore_ascii_case("content-disposition") {
            return None;
        }
        let mut params = value.split(';');
        if !params.next()?.trim().eq_ignore_ascii_case("form-data") {
            return None;
        }
        params.find_map(|p| {
            let (k, v) = p.split_once('=')?;
            if !k.trim().eq_ignore_ascii_case("name") {
                return None;
            }
            let v = v.trim();
            Some(
                v.strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(v),
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[(&str, &[u8])], b: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for (disposition, content) in parts {
            out.extend_from_slice(format!("--{b}\r\nContent-Disposition: {disposition}\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
            out.extend_from_slice(content);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{b}--\r\n").as_bytes());
        out
    }

    #[test]
    fn boundaries() {
        assert_eq!(boundary("multipart/form-data; boundary=abc"), Some("abc"));
        assert_eq!(
            boundary("Multipart/Form-Data;charset=x; BOUNDARY=\"a b\""),
            Some("a b")
        );
        assert_eq!(boundary("application/octet-stream"), None);
        assert_eq!(boundary("multipart/form-data"), None);
        assert_eq!(boundary("multipart/form-data; boundary="), None);
    }

    #[test]
    fn finds_the_field_among_others_even_with_crlf_inside() {
        let call = b"\x00\r\n--not-it\r\n\xff";
        let b = body(
            &[
                ("form-data; name=\"other\"", b"x"),
                (
                    "form-data; name=\"cmd\"; filename=\"2026-11-22T02:44:10.656Z.bin\"",
                    call,
                ),
            ],
            "XyZ",
        );
        assert_eq!(field(&b, "XyZ", "cmd"), Some(&call[..]));
        // `filename` is not `name`.
        let b = body(&[("form-data; filename=\"cmd\"", b"x")], "q");
        assert_eq!(field(&b, "q", "cmd"), None);
        let b = body(&[("form-data; name=cmd", b"")], "q");
        assert_eq!(field(&b, "q", "cmd"), Some(&b""[..]));
    }

    #[test]
    fn truncated_or_foreign_bodies_have_no_field() {
        let b = body(&[("form-data; name=\"cmd\"", b"abc")], "q");
        for cut in 0..b.len() - 8 {
            assert_eq!(field(&b[..cut], "q", "cmd"), None, "cut at {cut}");
        }
        assert_eq!(field(&b, "other", "cmd"), None);
        assert_eq!(field(b"", "q", "cmd"), None);
    }
}
