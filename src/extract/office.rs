//! DOCX and ODT: guarded zip reading plus streaming XML (quick-xml) text collection.

use std::io::{Cursor, Read};

use quick_xml::Reader;
use quick_xml::events::Event;
use zip::ZipArchive;

use super::{ExtractError, MAX_XML_DEPTH, contain_panic};

/// Guards for zip containers. Sizes are counted while decompressing; the sizes written in
/// the zip headers are never trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZipLimits {
    /// Maximum number of entries in the archive.
    pub max_entries: usize,
    /// Maximum decompressed bytes read from one entry.
    pub max_entry_bytes: u64,
    /// Maximum decompressed bytes read from the whole archive.
    pub max_total_bytes: u64,
    /// Maximum decompressed/compressed ratio of an entry, checked once the entry has
    /// produced more than `ratio_grace_bytes`.
    pub max_ratio: u64,
    /// Small entries may compress very well; the ratio applies above this size.
    pub ratio_grace_bytes: u64,
}

impl Default for ZipLimits {
    fn default() -> Self {
        Self {
            max_entries: 10_000,
            max_entry_bytes: 100 * 1024 * 1024,
            max_total_bytes: 200 * 1024 * 1024,
            max_ratio: 100,
            ratio_grace_bytes: 1024 * 1024,
        }
    }
}

struct GuardedZip<'a> {
    archive: ZipArchive<Cursor<&'a [u8]>>,
    limits: ZipLimits,
    total: u64,
    label: &'static str,
}

impl<'a> GuardedZip<'a> {
    fn open(bytes: &'a [u8], label: &'static str, limits: ZipLimits) -> Result<Self, ExtractError> {
        if !bytes.starts_with(b"PK\x03\x04") {
            return Err(ExtractError::mismatch(label, "it is not a zip container"));
        }
        let archive = ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
            ExtractError::mismatch(label, format!("the zip container is damaged ({e})"))
        })?;
        if archive.len() > limits.max_entries {
            return Err(ExtractError::Failed(format!(
                "the {label} has {} entries (limit {}): refusing a possible zip bomb",
                archive.len(),
                limits.max_entries
            )));
        }
        Ok(Self {
            archive,
            limits,
            total: 0,
            label,
        })
    }

    /// Reads one entry with the size, total and ratio guards. `None` if absent.
    fn read(&mut self, name: &str) -> Result<Option<Vec<u8>>, ExtractError> {
        let label = self.label;
        let mut file = match self.archive.by_name(name) {
            Ok(f) => f,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => {
                return Err(ExtractError::Failed(format!(
                    "the {label} part {name} cannot be read ({e})"
                )));
            }
        };
        let compressed = file.compressed_size().max(1);
        let bomb = |what: &str| {
            ExtractError::Failed(format!(
                "the {label} looks like a zip bomb ({what} in {name}); extraction refused"
            ))
        };
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut entry_bytes: u64 = 0;
        loop {
            let n = file.read(&mut buf).map_err(|e| {
                ExtractError::Failed(format!("the {label} part {name} is damaged ({e})"))
            })?;
            if n == 0 {
                break;
            }
            entry_bytes += n as u64;
            self.total += n as u64;
            if entry_bytes > self.limits.max_entry_bytes {
                return Err(bomb(&format!(
                    "more than {} MiB decompressed",
                    self.limits.max_entry_bytes / (1024 * 1024)
                )));
            }
            if self.total > self.limits.max_total_bytes {
                return Err(bomb(&format!(
                    "more than {} MiB decompressed in total",
                    self.limits.max_total_bytes / (1024 * 1024)
                )));
            }
            if entry_bytes > self.limits.ratio_grace_bytes
                && entry_bytes / compressed > self.limits.max_ratio
            {
                return Err(bomb(&format!(
                    "compression ratio above {}:1",
                    self.limits.max_ratio
                )));
            }
            out.extend_from_slice(&buf[..n]);
        }
        Ok(Some(out))
    }

    fn read_xml(&mut self, name: &str) -> Result<String, ExtractError> {
        let label = self.label;
        let bytes = self
            .read(name)?
            .ok_or_else(|| ExtractError::mismatch(label, format!("the part {name} is missing")))?;
        let bytes = bytes
            .strip_prefix(b"\xEF\xBB\xBF")
            .map(<[u8]>::to_vec)
            .unwrap_or(bytes);
        String::from_utf8(bytes)
            .map_err(|_| ExtractError::Failed(format!("the {label} part {name} is not UTF-8 XML")))
    }
}

/// DOCX: `[Content_Types].xml` must declare a WordprocessingML main document; text is the
/// `<w:t>` runs of `word/document.xml`, `w:p` ends a paragraph.
pub(crate) fn extract_docx(bytes: &[u8], limits: &ZipLimits) -> Result<String, ExtractError> {
    contain_panic("DOCX", || {
        let mut zip = GuardedZip::open(bytes, "DOCX", *limits)?;
        let types = zip.read_xml("[Content_Types].xml")?;
        if !types.contains("wordprocessingml.document.main+xml") {
            return Err(ExtractError::mismatch(
                "DOCX",
                "[Content_Types].xml does not declare a Word document",
            ));
        }
        let xml = zip.read_xml("word/document.xml")?;
        collect_text(&xml, "DOCX", |name| match name {
            "w:t" => Tag::Text,
            "w:p" => Tag::Paragraph,
            "w:tab" => Tag::Tab,
            "w:br" | "w:cr" => Tag::Break,
            // Deleted revisions, field codes and instructions are not visible text.
            "w:delText" | "w:instrText" => Tag::Hidden,
            _ => Tag::Other,
        })
    })
}

/// ODT: the `mimetype` entry must be exactly the ODT type; text is `text:p`/`text:h` of
/// `content.xml`.
pub(crate) fn extract_odt(bytes: &[u8], limits: &ZipLimits) -> Result<String, ExtractError> {
    contain_panic("ODT", || {
        let mut zip = GuardedZip::open(bytes, "ODT", *limits)?;
        let mimetype = zip
            .read("mimetype")?
            .ok_or_else(|| ExtractError::mismatch("ODT", "the mimetype entry is missing"))?;
        if mimetype.trim_ascii() != b"application/vnd.oasis.opendocument.text" {
            return Err(ExtractError::mismatch(
                "ODT",
                "the mimetype entry is not application/vnd.oasis.opendocument.text",
            ));
        }
        let xml = zip.read_xml("content.xml")?;
        collect_text(&xml, "ODT", |name| match name {
            "text:p" | "text:h" => Tag::Paragraph,
            "text:tab" => Tag::Tab,
            "text:line-break" => Tag::Break,
            "text:s" => Tag::Spaces,
            "office:annotation"
            | "text:note-citation"
            | "office:automatic-styles"
            | "office:font-face-decls"
            | "office:scripts" => Tag::Hidden,
            _ => Tag::Other,
        })
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    /// Only text inside these is kept (DOCX `w:t`).
    Text,
    /// Ends a paragraph (and, for ODT, holds text directly).
    Paragraph,
    Tab,
    Break,
    /// ODT `text:s` (`text:c` spaces).
    Spaces,
    /// Content is ignored.
    Hidden,
    Other,
}

/// Streams `xml`, collecting text according to `classify`. Custom entities are never
/// expanded (quick-xml does not process DTDs): unknown `&name;` references are dropped.
fn collect_text(
    xml: &str,
    label: &str,
    classify: impl Fn(&str) -> Tag,
) -> Result<String, ExtractError> {
    let mut reader = Reader::from_str(xml);
    // DOCX keeps text only inside w:t; ODT keeps any text inside a paragraph.
    let text_tag_mode = label == "DOCX";
    let mut out = String::new();
    let mut depth = 0usize;
    let mut in_text = 0usize; // open Text (DOCX) or Paragraph (ODT) elements
    let mut hidden = 0usize;
    let keep = |in_text: usize, hidden: usize| in_text > 0 && hidden == 0;
    let malformed =
        |e: quick_xml::Error| ExtractError::Failed(format!("the {label} XML is malformed ({e})"));
    loop {
        match reader.read_event().map_err(malformed)? {
            Event::Start(e) => {
                depth += 1;
                if depth > MAX_XML_DEPTH {
                    return Err(ExtractError::Failed(format!(
                        "the {label} XML is nested more than {MAX_XML_DEPTH} levels deep"
                    )));
                }
                match classify(e.name().as_ref()) {
                    Tag::Text if text_tag_mode => in_text += 1,
                    Tag::Paragraph if !text_tag_mode => in_text += 1,
                    Tag::Hidden => hidden += 1,
                    _ => {}
                }
            }
            Event::End(e) => {
                depth = depth.saturating_sub(1);
                match classify(e.name().as_ref()) {
                    Tag::Text if text_tag_mode => in_text = in_text.saturating_sub(1),
                    Tag::Paragraph => {
                        if !text_tag_mode {
                            in_text = in_text.saturating_sub(1);
                        }
                        if hidden == 0 {
                            out.push('\n');
                        }
                    }
                    Tag::Hidden => hidden = hidden.saturating_sub(1),
                    _ => {}
                }
            }
            Event::Empty(e) => {
                if hidden > 0 {
                    continue;
                }
                match classify(e.name().as_ref()) {
                    Tag::Tab => out.push('\t'),
                    Tag::Break | Tag::Paragraph => out.push('\n'),
                    Tag::Spaces => {
                        let n = e
                            .try_get_attribute("text:c")
                            .ok()
                            .flatten()
                            .and_then(|a| a.value.parse::<usize>().ok())
                            .unwrap_or(1)
                            .min(64);
                        out.extend(std::iter::repeat_n(' ', n));
                    }
                    _ => {}
                }
            }
            Event::Text(t) if keep(in_text, hidden) => out.push_str(&t.xml10_content()),
            Event::CData(t) if keep(in_text, hidden) => {
                out.push_str(&t.into_inner());
            }
            Event::GeneralRef(r) if keep(in_text, hidden) => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    out.push(c);
                } else {
                    match r.as_ref() {
                        "amp" => out.push('&'),
                        "lt" => out.push('<'),
                        "gt" => out.push('>'),
                        "quot" => out.push('"'),
                        "apos" => out.push('\''),
                        // Custom (DTD) entities are deliberately not expanded.
                        _ => {}
                    }
                }
            }
            // Office writers never emit a DTD; one that declares entities is an
            // entity-expansion attack ("billion laughs") or a crafted file.
            Event::DocType(_) => {
                return Err(ExtractError::Failed(format!(
                    "the {label} XML declares a DTD (entity declarations are not allowed)"
                )));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}
