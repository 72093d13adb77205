//! A safetensors file's header, read without mapping the file: the tensor
//! names and how long the file must be, so model folders can be checked
//! (and a checkpoint's naming scheme found) before any real load.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// What the header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafetensorsHeader {
    /// Tensor names, sorted.
    pub names: Vec<String>,
    /// The file's length.
    pub file_len: u64,
    /// The length the header promises: length prefix, header, tensor data.
    pub needed_len: u64,
}

/// Why a header could not be read.
#[derive(Debug)]
pub enum HeaderError {
    Io(io::Error),
    /// Not a complete safetensors header, and why (for the caller's message).
    Broken(String),
}

/// Reads the 8-byte little-endian header length and the JSON header after it.
pub fn read_header(path: &Path) -> Result<SafetensorsHeader, HeaderError> {
    let mut file = File::open(path).map_err(HeaderError::Io)?;
    let file_len = file.metadata().map_err(HeaderError::Io)?.len();
    let mut prefix = [0u8; 8];
    file.read_exact(&mut prefix)
        .map_err(|_| HeaderError::Broken(format!("truncated ({file_len} bytes, no header)")))?;
    let header_len = u64::from_le_bytes(prefix);
    if header_len > file_len.saturating_sub(8) {
        return Err(HeaderError::Broken(format!(
            "truncated ({file_len} bytes; the header alone needs {})",
            header_len + 8
        )));
    }
    let mut header = vec![0u8; header_len as usize];
    file.read_exact(&mut header).map_err(HeaderError::Io)?;
    let header: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&header)
        .map_err(|e| HeaderError::Broken(format!("not a safetensors file ({e})")))?;
    let tensors = header.iter().filter(|(name, _)| *name != "__metadata__");
    let data_end = tensors
        .clone()
        .filter_map(|(_, tensor)| tensor.get("data_offsets")?.get(1)?.as_u64())
        .max()
        .unwrap_or(0);
    let mut names: Vec<String> = tensors.map(|(name, _)| name.clone()).collect();
    names.sort();
    Ok(SafetensorsHeader {
        names,
        file_len,
        needed_len: 8 + header_len + data_end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, bytes).unwrap();
        file
    }

    fn safetensors(header: &str, data: usize) -> Vec<u8> {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend(std::iter::repeat_n(0u8, data));
        bytes
    }

    const HEADER: &str = r#"{"__metadata__":{"a":"b"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#;

    #[test]
    fn names_and_needed_length_come_from_the_header() {
        let file = write(&safetensors(HEADER, 12));
        let header = read_header(file.path()).unwrap();
        assert_eq!(header.names, ["b", "w"]);
        assert_eq!(header.needed_len, 8 + HEADER.len() as u64 + 12);
        assert_eq!(header.file_len, header.needed_len);
        // A file cut inside the data still has a readable header.
        let cut = write(&safetensors(HEADER, 5));
        let header = read_header(cut.path()).unwrap();
        assert!(header.file_len < header.needed_len);
    }

    #[test]
    fn broken_files_say_why() {
        let why = |bytes: &[u8]| match read_header(write(bytes).path()) {
            Err(HeaderError::Broken(why)) => why,
            other => panic!("{other:?}"),
        };
        assert_eq!(why(b"abc"), "truncated (3 bytes, no header)");
        let cut = &safetensors(HEADER, 0)[..20];
        assert!(why(cut).starts_with("truncated (20 bytes; the header alone needs"));
        assert!(why(&safetensors("not json", 0)).starts_with("not a safetensors file"));
    }
}
