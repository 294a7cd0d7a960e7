//! Reference distributions for tests and intervals: normal quantiles, two-sided p-values, chi-square tails.

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

/// The standard normal quantile z such that P(Z <= z) = p.
pub fn normal_quantile(p: f64) -> f64 {
    standard_normal().inverse_cdf(p)
}

/// Two-sided p-value of a standard-normal statistic.
pub fn normal_two_sided_p(z: f64) -> f64 {
    2.0 * standard_normal().sf(z.abs())
}

/// Upper tail P(X > x) of a chi-square distribution with `df` degrees of freedom.
pub fn chi_square_sf(x: f64, df: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return 1.0;
    }
    match ChiSquared::new(df) {
        Ok(d) => d.sf(x),
        Err(_) => f64::NAN,
    }
}

fn standard_normal() -> Normal {
    // Mean 0 and standard deviation 1 are valid parameters.
    Normal::standard()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert!((normal_quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-9);
        assert!((normal_two_sided_p(1.959_963_984_540_054) - 0.05).abs() < 1e-9);
        assert!((chi_square_sf(3.841_458_820_694_124, 1.0) - 0.05).abs() < 1e-9);
        assert_eq!(chi_square_sf(0.0, 2.0), 1.0);
    }
}
