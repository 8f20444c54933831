//! A strict `multipart/form-data` parser (RFC 7578 over RFC 2046), enough to read what kubo's
//! `dag/import` reads: file parts with their bytes. Malformed input gets an error in the words
//! of Go's `mime/multipart`, which kubo passes on.

use bytes::Bytes;
use memchr::memmem;

/// One part of the form.
#[derive(Debug)]
pub(crate) struct Part {
    pub name: Option<String>,
    pub filename: Option<String>,
    pub data: Bytes,
}

/// The boundary parameter of a `multipart/form-data` content type.
pub(crate) fn boundary(content_type: &str) -> Result<String, String> {
    let mut params = content_type.split(';');
    let essence = params.next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return Err(format!("request Content-Type isn't multipart/form-data: {essence:?}"));
    }
    for p in params {
        let Some((k, v)) = p.split_once('=') else { continue };
        if k.trim().eq_ignore_ascii_case("boundary") {
            let v = v.trim().trim_matches('"');
            if v.is_empty() || v.len() > 70 {
                return Err("multipart: boundary is empty or longer than 70 characters".into());
            }
            return Ok(v.to_owned());
        }
    }
    Err("no multipart boundary param in Content-Type".into())
}

/// Splits `body` into its parts.
pub(crate) fn parse(body: &Bytes, boundary: &str) -> Result<Vec<Part>, String> {
    let dash = format!("--{boundary}");
    let delim = format!("\r\n--{boundary}");
    // The first delimiter may follow a preamble, which is ignored.
    let mut pos = if body.starts_with(dash.as_bytes()) {
        dash.len()
    } else {
        memmem::find(body, delim.as_bytes())
            .map(|i| i + delim.len())
            .ok_or("multipart: NextPart: EOF")?
    };
    let mut parts = Vec::new();
    loop {
        let rest = &body[pos..];
        if rest.starts_with(b"--") {
            if parts.is_empty() {
                return Err("multipart: the form holds no part".into());
            }
            return Ok(parts);
        }
        // Transport padding (spaces, tabs) may follow a delimiter before its CRLF.
        let pad = rest.iter().take_while(|b| **b == b' ' || **b == b'\t').count();
        if !rest[pad..].starts_with(b"\r\n") {
            return Err("multipart: NextPart: boundary not followed by CRLF".into());
        }
        let head_start = pos + pad + 2;
        // Headers end with an empty line; with no headers at all, that line comes at once.
        let (head_len, data_start) = if body[head_start..].starts_with(b"\r\n") {
            (0, head_start + 2)
        } else {
            let len =
                memmem::find(&body[head_start..], b"\r\n\r\n").ok_or("multipart: NextPart: EOF in part headers")?;
            (len, head_start + len + 4)
        };
        let head = std::str::from_utf8(&body[head_start..head_start + head_len])
            .map_err(|_| "multipart: part headers are not UTF-8")?;
        let data_len = memmem::find(&body[data_start..], delim.as_bytes())
            .ok_or("multipart: NextPart: unexpected EOF (no closing boundary)")?;
        let (name, filename) = disposition(head)?;
        parts.push(Part {
            name,
            filename,
            data: body.slice(data_start..data_start + data_len),
        });
        pos = data_start + data_len + delim.len();
    }
}

/// `name` and `filename` from the part's `Content-Disposition: form-data`.
fn disposition(head: &str) -> Result<(Option<String>, Option<String>), String> {
    for line in head.split("\r\n").filter(|l| !l.is_empty()) {
        let Some((key, value)) = line.split_once(':') else {
            return Err(format!("malformed MIME header line: {line:?}"));
        };
        if !key.trim().eq_ignore_ascii_case("content-disposition") {
            continue;
        }
        let mut params = value.split(';');
        let kind = params.next().unwrap_or("").trim();
        if !kind.eq_ignore_ascii_case("form-data") && !kind.eq_ignore_ascii_case("file") {
            return Err(format!("multipart: unexpected Content-Disposition {kind:?}"));
        }
        let (mut name, mut filename) = (None, None);
        for p in params {
            if let Some((k, v)) = p.split_once('=') {
                let v = v.trim().trim_matches('"').to_owned();
                match k.trim().to_ascii_lowercase().as_str() {
                    "name" => name = Some(v),
                    "filename" => filename = Some(v),
                    _ => {}
                }
            }
        }
        return Ok((name, filename));
    }
    Err("multipart: part has no Content-Disposition header".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_two_parts_and_keeps_binary_bytes() {
        let body = Bytes::from_static(
            b"--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.car\"\r\n\r\n\x00\r\n\x01\r\n\
              --XX\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nv\r\n--XX--\r\n",
        );
        let parts = parse(&body, "XX").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].filename.as_deref(), Some("a.car"));
        assert_eq!(&parts[0].data[..], b"\x00\r\n\x01");
        assert_eq!(parts[1].name.as_deref(), Some("x"));
    }

    #[test]
    fn refuses_broken_forms() {
        let open = Bytes::from_static(b"--XX\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\ndata");
        assert!(parse(&open, "XX").unwrap_err().contains("EOF"));
        let no_header = Bytes::from_static(b"--XX\r\n\r\ndata\r\n--XX--");
        assert!(parse(&no_header, "XX").unwrap_err().contains("Content-Disposition"));
        assert!(boundary("application/octet-stream").is_err());
        assert!(boundary("multipart/form-data").is_err());
        assert_eq!(boundary("multipart/form-data; boundary=\"a b\"").unwrap(), "a b");
    }
}
