// Package model owns the trained artifact of lapse as plain data: feature
// transforms, classifier parameters (logistic weights or a tree ensemble),
// probability calibration, cluster centroids with readable names, segment
// rules and metadata. It scores feature vectors and explains scores with
// signed per-feature contributions, in pure Go. Its optional
// customer-value part (CustomerValue: BG/NBD and Gamma-Gamma parameters,
// formulas in model/btyd) turns a user's purchase days into P(alive),
// expected purchases over the horizon and CLV, as of any cutoff.
//
// model imports the standard library, gonum and its own model/btyd only; fitting lives in the
// training package, storage in serving/store.
package model
