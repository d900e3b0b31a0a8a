//! A small mixed-radix FFT (decimation in time) for the sizes Whisper needs (400 = 4·4·5·5).
//!
//! Any size works: it is split into the factors 4, 2, 3, 5 and then any remaining prime, which
//! falls back to a direct DFT stage. The plan precomputes every twiddle once.

/// A complex number in f64 (the mel check against the reference needs the precision).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Complex {
    pub re: f64,
    pub im: f64,
}

impl Complex {
    pub const ZERO: Complex = Complex { re: 0.0, im: 0.0 };

    #[inline]
    fn mul(self, o: Complex) -> Complex {
        Complex {
            re: self.re * o.re - self.im * o.im,
            im: self.re * o.im + self.im * o.re,
        }
    }

    #[inline]
    fn add(self, o: Complex) -> Complex {
        Complex {
            re: self.re + o.re,
            im: self.im + o.im,
        }
    }

    #[inline]
    fn sub(self, o: Complex) -> Complex {
        Complex {
            re: self.re - o.re,
            im: self.im - o.im,
        }
    }

    #[inline]
    pub fn norm_sqr(self) -> f64 {
        self.re * self.re + self.im * self.im
    }
}

/// The largest radix whose butterfly scratch lives on the stack.
const SMALL_RADIX: usize = 8;

/// A forward FFT plan of one size.
pub struct Fft {
    n: usize,
    factors: Vec<usize>,
    /// exp(-2πi k / n) for k in 0..n.
    twiddles: Vec<Complex>,
    /// Per distinct radix p: the p×p table W_p^(r·q), row-major (saves a modulo per term).
    roots: Vec<(usize, Vec<Complex>)>,
}

impl Fft {
    pub fn new(n: usize) -> Self {
        assert!(n > 0, "FFT size must be positive"); // a programming error, not input-dependent
        let mut factors = Vec::new();
        let mut rest = n;
        for p in [4, 2, 3, 5] {
            while rest.is_multiple_of(p) {
                factors.push(p);
                rest /= p;
            }
        }
        let mut p = 7;
        while rest > 1 {
            while rest.is_multiple_of(p) {
                factors.push(p);
                rest /= p;
            }
            p += 2;
        }
        let twiddles: Vec<Complex> = (0..n)
            .map(|k| {
                let a = -2.0 * std::f64::consts::PI * k as f64 / n as f64;
                Complex {
                    re: a.cos(),
                    im: a.sin(),
                }
            })
            .collect();
        let mut roots: Vec<(usize, Vec<Complex>)> = Vec::new();
        for &p in &factors {
            if roots.iter().all(|(q, _)| *q != p) {
                let table = (0..p * p)
                    .map(|i| twiddles[((i / p) * (i % p) % p) * (n / p)])
                    .collect();
                roots.push((p, table));
            }
        }
        Self {
            n,
            factors,
            twiddles,
            roots,
        }
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// `output` = DFT(`input`); both of length `len()`.
    pub fn forward(&self, input: &[Complex], output: &mut [Complex]) {
        assert!(
            input.len() == self.n && output.len() == self.n,
            "FFT buffers must match the plan size"
        );
        self.stage(input, 1, output, &self.factors);
    }

    /// One decimation-in-time level: `out.len()` points taken from `input` every `stride`.
    fn stage(&self, input: &[Complex], stride: usize, out: &mut [Complex], factors: &[usize]) {
        let n = out.len();
        let Some((&p, rest)) = factors.split_first() else {
            out[0] = input[0];
            return;
        };
        let m = n / p;
        if rest.is_empty() {
            // The sub-transforms have length 1: just gather.
            for (r, o) in out.iter_mut().enumerate() {
                *o = input[r * stride];
            }
        } else {
            for r in 0..p {
                self.stage(
                    &input[r * stride..],
                    stride * p,
                    &mut out[r * m..(r + 1) * m],
                    rest,
                );
            }
        }
        // W_n^j = twiddles[j * (N / n)].
        let step = self.n / n;
        match p {
            2 => {
                for k in 0..m {
                    let a = out[k];
                    let b = out[m + k].mul(self.twiddles[k * step]);
                    out[k] = a.add(b);
                    out[m + k] = a.sub(b);
                }
            }
            4 => {
                for k in 0..m {
                    let a0 = out[k];
                    let a1 = out[m + k].mul(self.twiddles[k * step]);
                    let a2 = out[2 * m + k].mul(self.twiddles[2 * k * step]);
                    let a3 = out[3 * m + k].mul(self.twiddles[3 * k * step]);
                    let (s02, d02) = (a0.add(a2), a0.sub(a2));
                    let (s13, d13) = (a1.add(a3), a1.sub(a3));
                    // Multiplying by -i: (re, im) -> (im, -re).
                    let d13i = Complex {
                        re: d13.im,
                        im: -d13.re,
                    };
                    out[k] = s02.add(s13);
                    out[m + k] = d02.add(d13i);
                    out[2 * m + k] = s02.sub(s13);
                    out[3 * m + k] = d02.sub(d13i);
                }
            }
            _ => self.generic_butterflies(out, p, m, step),
        }
    }

    fn generic_butterflies(&self, out: &mut [Complex], p: usize, m: usize, step: usize) {
        let roots = &self
            .roots
            .iter()
            .find(|(q, _)| *q == p)
            .expect("every factor has a root table") // built in `new` for each factor
            .1;
        let mut small = [Complex::ZERO; SMALL_RADIX];
        let mut big = if p > SMALL_RADIX {
            vec![Complex::ZERO; p]
        } else {
            Vec::new()
        };
        let tmp: &mut [Complex] = if p > SMALL_RADIX {
            &mut big
        } else {
            &mut small[..p]
        };
        for k in 0..m {
            for (r, t) in tmp.iter_mut().enumerate() {
                *t = out[r * m + k].mul(self.twiddles[r * k * step]);
            }
            for q in 0..p {
                let row = &roots[q * p..(q + 1) * p];
                let mut acc = tmp[0];
                for r in 1..p {
                    acc = acc.add(tmp[r].mul(row[r]));
                }
                out[q * m + k] = acc;
            }
        }
    }
}

/// The power spectrum |X[k]|², k = 0..=n/2, of a real signal of even length n, through one
/// complex FFT of length n/2 (even samples as real parts, odd samples as imaginary parts).
pub struct RealPower {
    half: Fft,
    /// exp(-2πi k / n) for k in 0..=n/2.
    twiddles: Vec<Complex>,
    packed: Vec<Complex>,
    spectrum: Vec<Complex>,
}

impl RealPower {
    pub fn new(n: usize) -> Self {
        assert!(n >= 2 && n.is_multiple_of(2), "real FFT size must be even"); // programming error
        let twiddles = (0..=n / 2)
            .map(|k| {
                let a = -2.0 * std::f64::consts::PI * k as f64 / n as f64;
                Complex {
                    re: a.cos(),
                    im: a.sin(),
                }
            })
            .collect();
        Self {
            half: Fft::new(n / 2),
            twiddles,
            packed: vec![Complex::ZERO; n / 2],
            spectrum: vec![Complex::ZERO; n / 2],
        }
    }

    /// `power[k]` = |DFT(input)[k]|² for k in 0..=n/2.
    pub fn compute(&mut self, input: &[f64], power: &mut [f64]) {
        let m = self.packed.len();
        assert!(
            input.len() == 2 * m && power.len() == m + 1,
            "buffers must match the plan size"
        );
        for (z, pair) in self.packed.iter_mut().zip(input.chunks_exact(2)) {
            *z = Complex {
                re: pair[0],
                im: pair[1],
            };
        }
        self.half.forward(&self.packed, &mut self.spectrum);
        for (k, out) in power.iter_mut().enumerate() {
            let z = self.spectrum[k % m];
            let zc = self.spectrum[(m - k % m) % m];
            let zc = Complex {
                re: zc.re,
                im: -zc.im,
            };
            // Even part E = (Z[k] + conj Z[m-k]) / 2, odd part O = (Z[k] - conj Z[m-k]) / 2i.
            let e = Complex {
                re: 0.5 * (z.re + zc.re),
                im: 0.5 * (z.im + zc.im),
            };
            let d = z.sub(zc);
            let o = Complex {
                re: 0.5 * d.im,
                im: -0.5 * d.re,
            };
            *out = e.add(o.mul(self.twiddles[k])).norm_sqr();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dft(x: &[Complex]) -> Vec<Complex> {
        let n = x.len();
        (0..n)
            .map(|k| {
                x.iter().enumerate().fold(Complex::ZERO, |acc, (t, v)| {
                    let a = -2.0 * std::f64::consts::PI * (k * t % n) as f64 / n as f64;
                    acc.add(v.mul(Complex {
                        re: a.cos(),
                        im: a.sin(),
                    }))
                })
            })
            .collect()
    }

    #[test]
    fn matches_a_direct_dft_for_mixed_and_prime_sizes() {
        for n in [1, 2, 5, 12, 13, 30, 77, 400] {
            let x: Vec<Complex> = (0..n)
                .map(|i| Complex {
                    re: ((i * 7 + 3) % 11) as f64 - 5.0,
                    im: ((i * 5 + 1) % 7) as f64 * 0.5,
                })
                .collect();
            let mut y = vec![Complex::ZERO; n];
            Fft::new(n).forward(&x, &mut y);
            for (a, b) in y.iter().zip(dft(&x)) {
                assert!(
                    (a.re - b.re).abs() < 1e-9 && (a.im - b.im).abs() < 1e-9,
                    "n={n}: {a:?} vs {b:?}"
                );
            }
        }
    }

    #[test]
    fn real_power_matches_the_complex_transform() {
        for n in [2, 8, 30, 400] {
            let x: Vec<f64> = (0..n).map(|i| ((i * 13 + 5) % 17) as f64 - 8.0).collect();
            let complex: Vec<Complex> = x.iter().map(|&re| Complex { re, im: 0.0 }).collect();
            let expected = dft(&complex);
            let mut power = vec![0.0; n / 2 + 1];
            RealPower::new(n).compute(&x, &mut power);
            for (k, p) in power.iter().enumerate() {
                let e = expected[k].norm_sqr();
                assert!((p - e).abs() < 1e-6 * e.max(1.0), "n={n} k={k}: {p} vs {e}");
            }
        }
    }

    #[test]
    fn factors_400_into_small_radices() {
        assert_eq!(Fft::new(400).factors, vec![4, 4, 5, 5]);
    }
}
