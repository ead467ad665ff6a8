// Package btyd holds the closed-form formulas of the "buy till you die"
// customer-base models used by lapse for shops without subscriptions, where
// churn is latent: the BG/NBD model of Fader, Hardie & Lee (2005, "Counting
// Your Customers the Easy Way", Marketing Science 24(2)) for the number and
// timing of repeat purchases, the Gamma-Gamma model of average order value
// (Fader, Hardie & Lee 2005, "RFM and CLV", and Hardie's note "The
// Gamma-Gamma Model of Monetary Value", 2013), and customer lifetime value
// built from the two.
//
// The package imports the standard library and gonum only. It holds no
// state and does no fitting: every function is a pure function of fitted
// parameters (BGNBD, GammaGamma, both plain JSON-tagged structs) and of a
// customer's sufficient statistics. Maximum-likelihood fitting lives in the
// training package.
//
// # Notation
//
// A customer is summarised over a calibration period by
//
//   - x: the number of repeat purchases (distinct purchase days minus one),
//   - t_x: the time of the last purchase, measured from the first purchase,
//   - T: the time from the first purchase to the end of calibration,
//
// all in one time Unit (days, weeks or months of 30.4375 days). The BG/NBD
// parameters (r, α, a, b) are only meaningful in the unit they were fitted
// in: α is a time scale. Gamma-Gamma uses x and zbar, the mean value of the
// repeat purchases.
//
// # Outputs per customer
//
//   - BGNBD.PAlive: P(still active at T | x, t_x, T).
//   - BGNBD.ExpectedPurchases: E[number of purchases in (T, T+t] | x, t_x, T].
//   - BGNBD.PNoPurchase: P(no purchase in (T, T+t] | x, t_x, T), the
//     business definition of churn for a non-contractual shop.
//   - BGNBD.ExpectedPurchasesNew: unconditional E[X(t)] for a customer
//     who made a first purchase at time 0.
//   - GammaGamma.ConditionalExpectedSpend: E[average order value | x, zbar].
//   - CLV: discounted expected revenue over a horizon in months.
//
// # Numerics
//
// Likelihoods are computed in log space with math.Lgamma. The conditional
// and unconditional expectations need the Gaussian hypergeometric function
// 2F1; Hyp2F1 is a summed power series with a convergence check, and the
// expectations use Euler's transformation
// 2F1(A,B;C;z) = (1-z)^(C-A-B) 2F1(C-A,C-B;C;z), which turns
// 2F1(r+x, b+x; a+b+x-1; z) into a series whose second parameter is a-1,
// so terms stay small for customers with many purchases, and the removable
// singularity of the formula at a = 1 is evaluated without cancellation.
//
// # Caveats
//
//   - Inputs must satisfy x >= 0 and 0 <= t_x <= T (t_x is ignored when
//     x = 0); methods return NaN for inputs outside that domain and for
//     invalid parameters. Call BGNBD.Validate on parameters read from
//     outside.
//   - The hypergeometric series converges for 0 <= z < 1 at a rate of
//     about z^n; horizons t many times longer than α + T take thousands of
//     terms. ExpectedPurchases returns ErrNoConvergence rather than a wrong
//     number when the series does not settle.
//   - The mean order value pv/(q-1) exists only for q > 1.
package btyd
