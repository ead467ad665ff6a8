// Package training owns everything offline: labels from events after each
// cutoff, out-of-time and held-out-user splits, fitting classifiers,
// calibrators and clusters (gonum and plain slices; golearn where it is the
// right tool), evaluation against simple baselines, and the report.
//
// It returns plain model values and never opens the store.
package training
