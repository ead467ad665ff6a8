// Package features owns lapse's raw event and everything computed from
// events without a model: the streaming readers for CSV, TSV and JSON Lines
// exports, the point-in-time per-user state and feature vectors as of a
// cutoff, the labels that training reads from after the cutoff, and the
// versioned feature Spec shared by training and serving.
//
// features imports only the standard library.
//
// # Basics
//
//   - [Event]: one row of history (user, name, time, signed amount).
//   - [Spec]: the feature set as JSON-serialisable data: windows, vocabulary,
//     activity, purchase and target events, intent families, eligibility
//     days, and the ordered feature names with a transform each.
//     [DefaultSpec] returns the defaults; [Spec.Derive] recomputes the names.
//   - [State]: one user's compact summary (exact first/last times, lifetime
//     totals and folded purchase days, hour and weekday histograms, daily
//     cells over the retention), updated by [State.Add], bounded by
//     [State.Prune], stored with MarshalBinary (format 2; format 1 still
//     decodes). Serving keeps one per user.
//   - [Featurizer]: computes a vector from a State at a cutoff. The batch
//     [Builder] and serving both go through it: one computation path.
//   - [Builder]: one snapshot from a stream of events in any order: a
//     [Dataset] of vectors for the eligible users, sorted by user id, with
//     churn and propensity labels and a learned Spec.
//   - [Log]: a columnar copy of the events (16 to 21 bytes each, measured) from which
//     training builds several snapshots, and per-user purchase days for
//     BG/NBD ([Log.PurchaseDays], [Log.PurchaseSummaries]).
//   - [PurchaseSummary]: a user's purchase days before a cutoff (count,
//     first, last, revenue after the first day), the input of the
//     customer-value models, from a State ([Featurizer.PurchaseSummary]) or
//     a Log; both give the same summary.
//   - [OutcomeWindow], [Outcome]: what a user did after an experiment's
//     start (activity, target event, gross purchase revenue) in whole UTC
//     days, from a State ([State.Outcome], serving) or from events
//     ([OutcomeCounter], lapse lift); both give the same outcome.
//   - [WriteCSV]: a Dataset as CSV (the CLI's `lapse features --out`).
//
// # Invariants
//
//   - No event at or after the cutoff T influences a vector: the Builder
//     sends such events to the labels only, and a Featurizer refuses a State
//     holding one (ErrAfterCutoff). TestLeakage checks it on random data.
//   - Windows are UTC calendar days: with D the first day starting at or
//     after T, an event's age is D − day(t) ≥ 1 and window w holds ages
//     1..w. Recency and tenure use exact times. See docs/DESIGN.md.
//   - The batch Builder and a State fed the same events, in any order, with
//     any Prune at or before T, marshalled and unmarshalled any number of
//     times, give bit-identical vectors. Amounts are kept as exact integers
//     of millionths, so sums do not depend on event order.
//   - The purchase summary of a State equals the Log's for the same events
//     (TestPurchaseSummaryMatchesLog), however the State was fed and
//     pruned, with one exception: a purchase added after its day was
//     folded, strictly between the first and last folded purchase days, is
//     counted as a new purchase day (see State).
//   - An outcome read from a State's daily cells equals the one counted
//     from the same events (TestOutcomeStateMatchesEvents), unless the
//     State was pruned past the window (ErrPruned).
//   - A Builder's memory grows with users and their active (day, type)
//     pairs within the retention (the longest window, at least 60 days),
//     not with events: older events go straight into lifetime totals.
//
// # Caveats
//
//   - A State is bound to the activity, purchase and target events and the
//     longest window of its Spec (a fingerprint is stored with it); using it
//     with a Spec that differs there fails with ErrSpecMismatch. Vocabulary
//     and intent lists may differ: the State keeps raw event names.
//   - Amounts are rounded to millionths and limited to ±1e12; times to the
//     years 1678..2262 (unix nanoseconds). Add reports others as errors.
//   - At most 65535 distinct event names per Builder, Log or State.
//   - Labels are defined only when the data reaches T+H (Dataset.Labelled);
//     for date-only data whose last day is T+H−1 day, pass DataEnd.
//   - Builder, State and Log are not safe for concurrent use; a Featurizer
//     is.
package features
