//! Small dense symmetric systems of the Cox fit: R's `cholesky2` (an LDL' factorisation whose pivot
//! tolerance flags collinear columns), its solve and inverse, and a pivoted Gaussian solve.

/// LDL' factor of a symmetric p × p matrix (row-major). Columns whose pivot fell below the
/// tolerance are singular: their D is 0 and they drop out of solves and inverses, as in R.
#[derive(Debug, Clone)]
pub(crate) struct Ldl {
    n: usize,
    /// Lower triangle: L (unit diagonal implied); diagonal: D.
    a: Vec<f64>,
    rank: usize,
}

impl Ldl {
    /// Factors `mat` (full symmetric, row-major n × n) with R's rule: a pivot is singular when it is
    /// not finite or below `toler` times the largest positive diagonal element.
    pub(crate) fn new(mat: &[f64], n: usize, toler: f64) -> Self {
        let mut a = mat.to_vec();
        let mut eps = 0.0_f64;
        for i in 0..n {
            if a[i * n + i] > eps {
                eps = a[i * n + i];
            }
            // Work from the upper triangle, as cholesky2 does.
            for j in (i + 1)..n {
                a[j * n + i] = a[i * n + j];
            }
        }
        eps = if eps == 0.0 { toler } else { eps * toler };
        let mut rank = 0;
        for i in 0..n {
            let pivot = a[i * n + i];
            if !pivot.is_finite() || pivot < eps {
                a[i * n + i] = 0.0;
                for j in (i + 1)..n {
                    a[j * n + i] = 0.0;
                }
            } else {
                rank += 1;
                for j in (i + 1)..n {
                    let temp = a[j * n + i] / pivot;
                    a[j * n + i] = temp;
                    a[j * n + j] -= temp * temp * pivot;
                    for k in (j + 1)..n {
                        a[k * n + j] -= temp * a[k * n + i];
                    }
                }
            }
        }
        Ldl { n, a, rank }
    }

    /// Number of non-singular pivots.
    pub(crate) fn rank(&self) -> usize {
        self.rank
    }

    /// Columns whose pivot was singular, in order.
    pub(crate) fn singular_columns(&self) -> Vec<usize> {
        (0..self.n)
            .filter(|&i| self.a[i * self.n + i] == 0.0)
            .collect()
    }

    /// Solves the system in place (singular components are set to 0).
    pub(crate) fn solve(&self, y: &mut [f64]) {
        let n = self.n;
        for i in 0..n {
            let mut t = y[i];
            for j in 0..i {
                t -= y[j] * self.a[i * n + j];
            }
            y[i] = t;
        }
        for i in (0..n).rev() {
            let d = self.a[i * n + i];
            if d == 0.0 {
                y[i] = 0.0;
            } else {
                let mut t = y[i] / d;
                for j in (i + 1)..n {
                    t -= y[j] * self.a[j * n + i];
                }
                y[i] = t;
            }
        }
    }

    /// The (generalised) inverse, full symmetric row-major; singular rows and columns are 0.
    pub(crate) fn inverse(&self) -> Vec<f64> {
        let n = self.n;
        let mut inv = vec![0.0; n * n];
        let mut col = vec![0.0; n];
        for j in 0..n {
            col.iter_mut().for_each(|v| *v = 0.0);
            col[j] = 1.0;
            self.solve(&mut col);
            for i in 0..n {
                inv[i * n + j] = col[i];
            }
        }
        for i in 0..n {
            for j in (i + 1)..n {
                let v = 0.5 * (inv[i * n + j] + inv[j * n + i]);
                inv[i * n + j] = v;
                inv[j * n + i] = v;
            }
        }
        inv
    }

    /// The quadratic form b' M⁻¹ b (R's `coxph.wtest` statistic).
    pub(crate) fn quadratic_form(&self, b: &[f64]) -> f64 {
        let mut s = b.to_vec();
        self.solve(&mut s);
        b.iter().zip(&s).map(|(x, y)| x * y).sum()
    }
}

/// Solves A x = b for a general square A (row-major) by Gaussian elimination with partial
/// pivoting, as R's `solve` does through LAPACK. `None` when A is singular.
pub(crate) fn solve_general(a: &[f64], n: usize, b: &[f64]) -> Option<Vec<f64>> {
    let mut m = a.to_vec();
    let mut x = b.to_vec();
    let scale = m.iter().fold(0.0_f64, |s, v| s.max(v.abs()));
    if scale == 0.0 || !scale.is_finite() {
        return None;
    }
    for k in 0..n {
        let (piv, big) = (k..n)
            .map(|i| (i, m[i * n + k].abs()))
            .fold((k, -1.0), |acc, v| if v.1 > acc.1 { v } else { acc });
        if big <= scale * 1e-14 {
            return None;
        }
        if piv != k {
            for j in 0..n {
                m.swap(k * n + j, piv * n + j);
            }
            x.swap(k, piv);
        }
        for i in (k + 1)..n {
            let f = m[i * n + k] / m[k * n + k];
            if f != 0.0 {
                for j in k..n {
                    m[i * n + j] -= f * m[k * n + j];
                }
                x[i] -= f * x[k];
            }
        }
    }
    for k in (0..n).rev() {
        let mut t = x[k];
        for j in (k + 1)..n {
            t -= m[k * n + j] * x[j];
        }
        x[k] = t / m[k * n + k];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_and_inverts() {
        let m = [4.0, 2.0, 0.6, 2.0, 5.0, 1.0, 0.6, 1.0, 3.0];
        let l = Ldl::new(&m, 3, 1e-12);
        assert_eq!(l.rank(), 3);
        let inv = l.inverse();
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| m[i * 3 + k] * inv[k * 3 + j]).sum();
                assert!((v - f64::from(u8::from(i == j))).abs() < 1e-12);
            }
        }
        let x = solve_general(&m, 3, &[1.0, 2.0, 3.0]).expect("valid test input");
        let mut y = [1.0, 2.0, 3.0];
        l.solve(&mut y);
        for k in 0..3 {
            assert!((x[k] - y[k]).abs() < 1e-12);
        }
    }

    #[test]
    fn flags_collinear_column() {
        // Third column = first + second.
        let m = [2.0, 1.0, 3.0, 1.0, 2.0, 3.0, 3.0, 3.0, 6.0];
        let l = Ldl::new(&m, 3, 1e-9);
        assert_eq!(l.rank(), 2);
        assert_eq!(l.singular_columns(), vec![2]);
    }
}
