// Package model owns the trained artifact of lapse as plain data: feature
// transforms, classifier parameters (logistic weights or a tree ensemble),
// probability calibration, cluster centroids with readable names, segment
// rules and metadata. It scores feature vectors and explains scores with
// signed per-feature contributions, in pure Go.
//
// model imports the standard library and gonum only; fitting lives in the
// training package, storage in serving/store.
package model
