// Package features owns lapse's raw event and everything computed from
// events without a model: the streaming readers for CSV, TSV and JSON Lines
// exports, the point-in-time per-user state and feature vectors as of a
// cutoff, the labels that training reads from after the cutoff, and the
// versioned feature Spec shared by training and serving.
//
// features imports only the standard library.
package features
