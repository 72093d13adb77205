//! The text stage: BERT checkpoints (locate, fetch, verify) and the
//! `BertEncoder` that turns texts and character spans into embeddings with
//! our BERT forward (`bert`).

pub mod bert;
mod cpu_forward;
pub mod encoder;
mod kernels;
pub mod lora;
pub mod model_files;
pub mod npy;

pub use encoder::{
    parse_device, span_tokens, BertEncoder, Embeddings, SpanInput, SpanIssue, SplitBert,
};
pub use lora::LoraConfig;
