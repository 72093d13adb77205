//! An optional system BLAS for the frozen BERT's projections, loaded at run
//! time: candle's own matmul tops out at AVX2 on stable Rust, while an
//! OpenBLAS built for the machine uses AVX-512 where the CPU has it (about
//! twice the f32 matmul rate here). Nothing is needed at build time; without
//! a BLAS, or with `KGFUSE_BLAS=off`, candle's matmul runs. `KGFUSE_BLAS=PATH`
//! picks a library.

use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::OnceLock;

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape};

use super::bert::f32_slice;

/// `cblas_sgemm` (CBLAS, row-major).
type Sgemm = unsafe extern "C" fn(
    layout: c_int,
    trans_a: c_int,
    trans_b: c_int,
    m: c_int,
    n: c_int,
    k: c_int,
    alpha: f32,
    a: *const f32,
    lda: c_int,
    b: *const f32,
    ldb: c_int,
    beta: f32,
    c: *mut f32,
    ldc: c_int,
);

const ROW_MAJOR: c_int = 101;
const NO_TRANS: c_int = 111;
const TRANS: c_int = 112;

/// A loaded BLAS.
pub struct Blas {
    sgemm: Sgemm,
    /// The library it came from.
    pub name: String,
}

/// Libraries tried in order when `KGFUSE_BLAS` does not name one.
const CANDIDATES: [&str; 2] = ["libopenblas.so.0", "libopenblas.so"];

/// The system BLAS, loaded once (None: candle's matmul). Call it before
/// other threads start: loading may set `OPENBLAS_CORETYPE`.
pub fn system_blas() -> Option<&'static Blas> {
    static BLAS: OnceLock<Option<Blas>> = OnceLock::new();
    BLAS.get_or_init(|| match std::env::var("KGFUSE_BLAS") {
        Ok(v) if v == "off" => None,
        Ok(path) => load(&path),
        Err(_) => CANDIDATES.iter().find_map(|name| load(name)),
    })
    .as_ref()
}

fn symbol(handle: *mut c_void, name: &str) -> *mut c_void {
    let name = CString::new(name).expect("symbol names have no NUL");
    // SAFETY: `handle` is a live dlopen handle and `name` a C string.
    unsafe { libc::dlsym(handle, name.as_ptr() as *const c_char) }
}

/// OpenBLAS 0.3.21 (Debian 12's) does not recognise recent Xeons and falls
/// back to its AVX2 kernels; on a CPU with the AVX-512 subsets its SkylakeX
/// kernels need, ask for those (25 % faster on long texts here), unless
/// `OPENBLAS_CORETYPE` already says which (as on our CI machines: Haswell).
fn prefer_avx512_kernels() {
    #[cfg(target_arch = "x86_64")]
    {
        let avx512 = is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512cd")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512dq")
            && is_x86_feature_detected!("avx512vl");
        if avx512 && std::env::var_os("OPENBLAS_CORETYPE").is_none() {
            std::env::set_var("OPENBLAS_CORETYPE", "SkylakeX");
        }
    }
}

fn load(library: &str) -> Option<Blas> {
    prefer_avx512_kernels();
    let path = CString::new(library).ok()?;
    // SAFETY: dlopen with a C string; the handle is kept for the process's life.
    let handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        return None;
    }
    let sgemm = symbol(handle, "cblas_sgemm");
    if sgemm.is_null() {
        return None;
    }
    // One BLAS thread per worker the rest of kgfuse uses, so they do not
    // compete for cores.
    let set_threads = symbol(handle, "openblas_set_num_threads");
    if !set_threads.is_null() {
        // SAFETY: OpenBLAS's `void openblas_set_num_threads(int)`.
        let set: unsafe extern "C" fn(c_int) = unsafe { std::mem::transmute(set_threads) };
        unsafe { set(rayon::current_num_threads() as c_int) };
    }
    Some(Blas {
        // SAFETY: the symbol is CBLAS's sgemm, whose signature `Sgemm` is.
        sgemm: unsafe { std::mem::transmute::<*mut c_void, Sgemm>(sgemm) },
        name: library.to_owned(),
    })
}

/// `x W^T` for a row-major `x` `[m, k]` and weight `W` `[n, k]` (inference only).
pub struct BlasMatmulTransposed(pub &'static Blas);

impl CustomOp2 for BlasMatmulTransposed {
    fn name(&self) -> &'static str {
        "blas-matmul-transposed"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        x_layout: &Layout,
        w: &CpuStorage,
        w_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, w) = (f32_slice(x, x_layout)?, f32_slice(w, w_layout)?);
        let (m, k) = x_layout.shape().dims2()?;
        let (n, k2) = w_layout.shape().dims2()?;
        if k != k2 {
            candle_core::bail!("BLAS matmul: [{m}, {k}] by [{n}, {k2}]^T");
        }
        let mut out = vec![0f32; m * n];
        // SAFETY: the slices hold m*k, n*k and m*n floats as the call reads and writes.
        unsafe {
            (self.0.sgemm)(
                ROW_MAJOR,
                NO_TRANS,
                TRANS,
                m as c_int,
                n as c_int,
                k as c_int,
                1.0,
                x.as_ptr(),
                k as c_int,
                w.as_ptr(),
                k as c_int,
                0.0,
                out.as_mut_ptr(),
                n as c_int,
            )
        };
        Ok((CpuStorage::F32(out), Shape::from((m, n))))
    }
}
