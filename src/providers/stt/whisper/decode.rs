//! Greedy decoding with the decoder's self-attention key/value cache.
//!
//! The decoder graph (scripts/convert_whisper.py) takes the new tokens plus the cache of earlier
//! ones and returns logits and the grown cache; the cache values go straight back in as the next
//! inputs (ort values, no copy through Rust).

use ort::session::Session;
use ort::value::{DynValue, Tensor, TensorRef};

use crate::foundation::cancel::CancelToken;
use crate::providers::stt::SttError;

/// Token ids and rules of one Whisper variant.
#[derive(Clone, Debug)]
pub struct DecodeSpec {
    pub n_layers: usize,
    pub n_heads: usize,
    pub d_head: usize,
    pub n_vocab: usize,
    pub eot: u32,
    pub no_speech: u32,
    /// Start of transcript, (language, task,) no timestamps.
    pub prompt: Vec<u32>,
    /// Never emitted (config.json `suppress_ids`), plus every special token after `eot`.
    pub suppress: Vec<u32>,
    /// Not allowed as the first token (config.json `suppress_ids_begin`: blank and `eot`).
    pub suppress_begin: Vec<u32>,
}

/// What greedy decoding produced for one 30 s window.
#[derive(Clone, Debug, Default)]
pub struct Decoded {
    pub tokens: Vec<u32>,
    /// Probability of `<|nocaptions|>` right after the start-of-transcript token.
    pub no_speech_prob: f32,
    /// Mean log-probability of the emitted tokens (and of end-of-text when reached).
    pub avg_logprob: f32,
    /// False when decoding stopped at the token budget rather than at end-of-text.
    pub finished: bool,
    /// Draft tokens the model confirmed (each one a decoder pass saved).
    pub drafted: usize,
    /// Decoder passes run.
    pub passes: usize,
}

fn err(e: impl std::fmt::Display) -> SttError {
    SttError::Inference(e.to_string())
}

/// Greedy decoding of one window. Returns `Ok(None)` when `cancel` fires.
///
/// `draft` is a guess of the tokens (the transcript of the same utterance a moment ago, while
/// it was still growing). The first pass feeds the prompt and the whole draft at once; the
/// model's own choice at each position is compared with the draft, the agreeing prefix is kept
/// and the cache cut after it, and decoding goes on one token a pass from the first
/// disagreement. The result is the greedy decoding whatever the draft (lossless, as in
/// speculative decoding); a good draft turns a dozen passes into one or two.
pub fn greedy(
    decoder: &mut Session,
    spec: &DecodeSpec,
    cross_k: &DynValue,
    cross_v: &DynValue,
    max_tokens: usize,
    draft: &[u32],
    cancel: &CancelToken,
) -> Result<Option<Decoded>, SttError> {
    let (l, h, dh) = (spec.n_layers, spec.n_heads, spec.d_head);
    // An empty cache (P = 0) for the prompt step.
    let mut past_k: DynValue = Tensor::from_array(([l, 1, h, dh, 0], Vec::<f32>::new()))
        .map_err(err)?
        .into_dyn();
    let mut past_v: DynValue = Tensor::from_array(([l, 1, h, 0, dh], Vec::<f32>::new()))
        .map_err(err)?
        .into_dyn();
    let mut cached = 0usize;

    let mut suppressed = vec![false; spec.n_vocab];
    for &id in &spec.suppress {
        if let Some(s) = suppressed.get_mut(id as usize) {
            *s = true;
        }
    }
    // Only text tokens may be drafted; anything else could never be chosen.
    let draft_len = draft
        .iter()
        .take(max_tokens)
        .take_while(|&&t| t < spec.eot && !suppressed[t as usize])
        .count();
    let draft = &draft[..draft_len];

    let mut input: Vec<i64> = spec.prompt.iter().map(|&t| t as i64).collect();
    input.extend(draft.iter().map(|&t| t as i64));
    // Of `input`, how many trailing tokens are draft still to be checked.
    let mut unchecked = draft.len();
    let mut out = Decoded::default();
    let mut logprob_sum = 0.0f64;
    let mut scored = 0usize;
    let mut logits = vec![0.0f32; spec.n_vocab];
    'passes: loop {
        if cancel.is_cancelled() {
            return Ok(None);
        }
        let tokens =
            TensorRef::from_array_view(([1usize, input.len()], &input[..])).map_err(err)?;
        let mut outputs = decoder
            .run(ort::inputs! {
                "tokens" => tokens,
                "past_k" => &past_k,
                "past_v" => &past_v,
                "cross_k" => cross_k,
                "cross_v" => cross_v,
            })
            .map_err(err)?;
        out.passes += 1;
        let n = input.len();
        let all: Vec<f32> = {
            let (shape, all) = outputs["logits"].try_extract_tensor::<f32>().map_err(err)?;
            if shape.len() != 3
                || shape[2] as usize != spec.n_vocab
                || all.len() != n * spec.n_vocab
            {
                return Err(err(format!("unexpected logits shape {shape:?}")));
            }
            if out.passes == 1 {
                // The row after start-of-transcript (the prompt's first token) says "no speech".
                out.no_speech_prob = softmax_at(&all[..spec.n_vocab], spec.no_speech as usize);
            }
            // Only the rows that choose a token matter: the last non-draft one and the drafts.
            all[(n - 1 - unchecked) * spec.n_vocab..].to_vec()
        };
        let next_k = outputs
            .remove("present_k")
            .ok_or_else(|| err("decoder output present_k missing"))?;
        let next_v = outputs
            .remove("present_v")
            .ok_or_else(|| err("decoder output present_v missing"))?;
        drop(outputs);
        past_k = next_k;
        past_v = next_v;
        cached += n;

        let checking = unchecked;
        unchecked = 0;
        for (j, row) in all.chunks_exact(spec.n_vocab).enumerate() {
            logits.copy_from_slice(row);
            // Only text tokens and end-of-text may be chosen.
            for (id, x) in logits.iter_mut().enumerate() {
                if suppressed[id] || id > spec.eot as usize {
                    *x = f32::NEG_INFINITY;
                }
            }
            if scored == 0 {
                for &id in &spec.suppress_begin {
                    if let Some(x) = logits.get_mut(id as usize) {
                        *x = f32::NEG_INFINITY;
                    }
                }
            }
            let (best, logprob) = argmax_logprob(&logits);
            if out.tokens.len() == max_tokens && best != spec.eot {
                break 'passes; // budget spent
            }
            logprob_sum += logprob as f64;
            scored += 1;
            if best == spec.eot {
                out.finished = true;
                break 'passes;
            }
            out.tokens.push(best);
            if let Some(cut) = looping_tail(&out.tokens) {
                log::debug!(
                    "whisper: stopped a repetition loop ({} tokens dropped)",
                    out.tokens.len() - cut
                );
                out.tokens.truncate(cut);
                break 'passes;
            }
            if j < checking && draft.get(out.tokens.len() - 1) == Some(&best) {
                out.drafted += 1;
                continue; // the draft token in the cache is the model's own choice
            }
            // A choice of the model's own: the draft after it (already in the cache) is void.
            let keep = cached - (checking - j);
            if keep < cached {
                past_k = truncate_cache(&past_k, CacheAxis::Keys, keep)?;
                past_v = truncate_cache(&past_v, CacheAxis::Values, keep)?;
                cached = keep;
            }
            input.clear();
            input.push(best as i64);
            continue 'passes;
        }
        // Every row was a confirmed draft token and no choice was left: cannot happen (the last
        // row always chooses), but end cleanly rather than loop.
        break;
    }
    out.avg_logprob = if scored == 0 {
        0.0
    } else {
        (logprob_sum / scored as f64) as f32
    };
    Ok(Some(out))
}

#[derive(Clone, Copy)]
enum CacheAxis {
    /// `[L, 1, H, dh, P]`: positions on the last axis.
    Keys,
    /// `[L, 1, H, P, dh]`: positions on the fourth axis.
    Values,
}

/// The cache with only its first `keep` positions.
fn truncate_cache(cache: &DynValue, axis: CacheAxis, keep: usize) -> Result<DynValue, SttError> {
    let (shape, data) = cache.try_extract_tensor::<f32>().map_err(err)?;
    let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
    let [a, b, c, d, e] = dims[..] else {
        return Err(err(format!("unexpected cache shape {dims:?}")));
    };
    let mut kept = Vec::with_capacity(data.len());
    let shape = match axis {
        CacheAxis::Keys => {
            if keep > e {
                return Err(err("cache shorter than the kept positions"));
            }
            for row in data.chunks_exact(e) {
                kept.extend_from_slice(&row[..keep]);
            }
            [a, b, c, d, keep]
        }
        CacheAxis::Values => {
            if keep > d {
                return Err(err("cache shorter than the kept positions"));
            }
            for head in data.chunks_exact(d * e) {
                kept.extend_from_slice(&head[..keep * e]);
            }
            [a, b, c, keep, e]
        }
    };
    Ok(Tensor::from_array((shape, kept)).map_err(err)?.into_dyn())
}

/// When `tokens` ends with a phrase said again right after itself, the index where the repeats
/// start (they are dropped). Trimmed windows make Whisper loop: a phrase of four or more tokens
/// repeated once is already a loop (a whole sentence said twice); shorter phrases must come
/// three times, a single token five times, so "very, very" or "no, no" survive.
fn looping_tail(tokens: &[u32]) -> Option<usize> {
    const MAX_PHRASE: usize = 48;
    (1..=MAX_PHRASE).find_map(|k| {
        let times = match k {
            1 => 5,
            2 | 3 => 3,
            _ => 2,
        };
        if tokens.len() < k * times {
            return None;
        }
        let tail = &tokens[tokens.len() - k * times..];
        let phrase = &tail[..k];
        tail.chunks(k)
            .all(|c| c == phrase)
            .then(|| tokens.len() - k * (times - 1))
    })
}

/// softmax(logits)[index].
fn softmax_at(logits: &[f32], index: usize) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&x| ((x - max) as f64).exp()).sum();
    logits
        .get(index)
        .map_or(0.0, |&x| (((x - max) as f64).exp() / sum) as f32)
}

/// The best id and its log-probability (log-softmax over the allowed logits).
fn argmax_logprob(logits: &[f32]) -> (u32, f32) {
    let (best, max) =
        logits
            .iter()
            .copied()
            .enumerate()
            .fold((0usize, f32::NEG_INFINITY), |acc, (i, x)| {
                if x > acc.1 {
                    (i, x)
                } else {
                    acc
                }
            });
    let sum: f64 = logits.iter().map(|&x| ((x - max) as f64).exp()).sum();
    (best as u32, -(sum.ln() as f32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_and_logprob() {
        let (id, lp) = argmax_logprob(&[0.0, 2.0, f32::NEG_INFINITY, 2.0f32.ln()]);
        assert_eq!(id, 1);
        let expected = (2.0f64.exp() / (1.0 + 2.0f64.exp() + 2.0)).ln() as f32;
        assert!((lp - expected).abs() < 1e-6, "{lp} vs {expected}");
    }

    #[test]
    fn loops_are_cut_to_their_first_occurrence() {
        // "Yes, please. Please. Please. Please." as tokens: 1 2 3 | 4 3 | 4 3 | 4 3
        assert_eq!(looping_tail(&[1, 2, 3, 4, 3, 4, 3, 4, 3]), Some(5));
        assert_eq!(looping_tail(&[1, 2, 3, 4, 3, 4, 3]), None);
        assert_eq!(looping_tail(&[9, 9, 9, 9]), None);
        assert_eq!(looping_tail(&[8, 9, 9, 9, 9, 9]), Some(2));
        let phrase = [5, 6, 7, 8, 9, 10];
        // Checked after every token, a six-token phrase is caught at its second occurrence.
        let looped: Vec<u32> = [&[1, 2][..], &phrase, &phrase].concat();
        assert_eq!(looping_tail(&looped), Some(8));
        assert_eq!(looping_tail(&looped[..13]), None);
        assert_eq!(looping_tail(&[1, 2, 3, 4, 5, 6]), None);
        // A whole sentence said twice is cut after the first time.
        let sentence = [20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30];
        let twice: Vec<u32> = [&sentence[..], &sentence].concat();
        assert_eq!(looping_tail(&twice), Some(11));
        // A short phrase said twice is left alone.
        assert_eq!(looping_tail(&[1, 7, 8, 7, 8]), None);
    }

    #[test]
    fn softmax_picks_the_index() {
        let p = softmax_at(&[0.0, 0.0, 0.0, 0.0], 2);
        assert!((p - 0.25).abs() < 1e-6);
        assert_eq!(softmax_at(&[1.0], 5), 0.0);
    }
}
