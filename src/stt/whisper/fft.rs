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
    pub fn norm_sqr(self) -> f64 {
        self.re * self.re + self.im * self.im
    }
}

/// A forward FFT plan of one size.
pub struct Fft {
    n: usize,
    factors: Vec<usize>,
    /// exp(-2πi k / n) for k in 0..n.
    twiddles: Vec<Complex>,
}

/// The largest radix handled by one butterfly stage (bigger primes use a scratch buffer).
const SMALL_RADIX: usize = 8;

impl Fft {
    pub fn new(n: usize) -> Self {
        assert!(n > 0, "FFT size must be positive"); // a programming error, not input-dependent
        let mut factors = Vec::new();
        let mut rest = n;
        for p in [4, 2, 3, 5] {
            while rest % p == 0 {
                factors.push(p);
                rest /= p;
            }
        }
        let mut p = 7;
        while rest > 1 {
            while rest % p == 0 {
                factors.push(p);
                rest /= p;
            }
            p += 2;
        }
        let twiddles = (0..n)
            .map(|k| {
                let a = -2.0 * std::f64::consts::PI * k as f64 / n as f64;
                Complex {
                    re: a.cos(),
                    im: a.sin(),
                }
            })
            .collect();
        Self {
            n,
            factors,
            twiddles,
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
        for r in 0..p {
            self.stage(
                &input[r * stride..],
                stride * p,
                &mut out[r * m..(r + 1) * m],
                rest,
            );
        }
        // Twiddle index steps: W_n^j = twiddles[j * (N / n)], W_p^j = twiddles[j * (N / p)].
        let step_n = self.n / n;
        let step_p = self.n / p;
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
                *t = out[r * m + k].mul(self.twiddles[(r * k * step_n) % self.n]);
            }
            for q in 0..p {
                let mut acc = tmp[0];
                for (r, t) in tmp.iter().enumerate().skip(1) {
                    acc = acc.add(t.mul(self.twiddles[((r * q) % p) * step_p]));
                }
                out[q * m + k] = acc;
            }
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
    fn factors_400_into_small_radices() {
        assert_eq!(Fft::new(400).factors, vec![4, 4, 5, 5]);
    }
}
