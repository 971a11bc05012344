//! Distribution tails (statrs) used to score windows: how improbable is what we observed?

use statrs::distribution::{Binomial, DiscreteCDF, NegativeBinomial, Poisson};

/// P(X >= observed) for a count with mean `mean` and relative overdispersion `phi`
/// (variance = mean + (phi * mean)^2, a negative binomial; Poisson when `phi` is 0).
pub fn count_tail(observed: f64, mean: f64, phi: f64) -> f64 {
    if observed <= 0.0 {
        return 1.0;
    }
    let mean = mean.max(1e-6);
    let k = observed.ceil() as u64 - 1;
    if phi <= 0.0 {
        return Poisson::new(mean).map(|d| d.sf(k)).unwrap_or(1.0);
    }
    let r = 1.0 / (phi * phi);
    let p = r / (r + mean);
    NegativeBinomial::new(r, p).map(|d| d.sf(k)).unwrap_or(1.0)
}

/// P(X >= errors) for `errors` out of `calls` when each call fails with probability `p`.
pub fn error_tail(errors: u64, calls: u64, p: f64) -> f64 {
    if errors == 0 {
        return 1.0;
    }
    let p = p.clamp(1e-9, 1.0);
    Binomial::new(p, calls.max(errors)).map(|d| d.sf(errors - 1)).unwrap_or(1.0)
}

/// Standard deviation of a count with mean `mean` and overdispersion `phi`.
pub fn count_sd(mean: f64, phi: f64) -> f64 {
    (mean + (phi * mean).powi(2)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_are_small_for_big_excesses_and_one_for_nothing() {
        assert!((count_tail(0.0, 5.0, 0.2) - 1.0).abs() < 1e-12);
        assert!(count_tail(40.0, 0.01, 0.25) < 1e-20);
        assert!(count_tail(12.0, 10.0, 0.25) > 0.1);
        assert!(count_tail(100.0, 10.0, 0.0) < count_tail(100.0, 10.0, 0.5));
        assert!(error_tail(50, 100, 0.01) < 1e-30);
        assert!(error_tail(2, 100, 0.02) > 0.3);
    }
}
