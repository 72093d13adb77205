//! NumPy's `.npy` format (version 1.0) for float32 matrices, so that
//! vectors go straight into `numpy.load`.

use std::io::{self, Write};

/// Writes `rows` (each `width` values) as a C-order float32 matrix.
pub fn write_f32_matrix(out: &mut dyn Write, rows: &[Vec<f32>], width: usize) -> io::Result<()> {
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {width}), }}",
        rows.len()
    );
    // Magic (6) + version (2) + length (2) + header + newline, padded to 64 bytes.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    out.write_all(b"\x93NUMPY\x01\x00")?;
    out.write_all(&(header.len() as u16).to_le_bytes())?;
    out.write_all(header.as_bytes())?;
    for row in rows {
        for x in row {
            out.write_all(&x.to_le_bytes())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_padded_to_64_bytes_and_data_follows_little_endian() {
        let mut out = Vec::new();
        write_f32_matrix(&mut out, &[vec![1.0, 2.0], vec![3.0, -0.5]], 2).unwrap();
        assert_eq!(&out[..8], b"\x93NUMPY\x01\x00");
        let header_len = u16::from_le_bytes([out[8], out[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        let header = std::str::from_utf8(&out[10..10 + header_len]).unwrap();
        assert!(
            header.contains("'shape': (2, 2)") && header.ends_with('\n'),
            "{header}"
        );
        let values: Vec<f32> = out[10 + header_len..]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(values, [1.0, 2.0, 3.0, -0.5]);
    }
}
