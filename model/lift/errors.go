package lift

import "errors"

// These errors are returned for invalid experiment configuration or
// assignment input.
var (
	// ErrShare is returned when a holdout or global-control share is NaN
	// or outside [0, 1] (or outside (0, 1) where both groups must exist).
	ErrShare = errors.New("share out of range")

	// ErrDuplicateUser is returned by AssignStratified when one user id
	// appears more than once in its input.
	ErrDuplicateUser = errors.New("duplicate user id")
)

// These errors are returned by the comparison and planning functions when
// the data or parameters cannot give a meaningful result.
var (
	// ErrEmptyGroup is returned when a group has no users.
	ErrEmptyGroup = errors.New("empty group")

	// ErrCounts is returned when successes are negative or exceed n.
	ErrCounts = errors.New("invalid counts")

	// ErrTooFew is returned when a mean comparison has fewer than two users
	// in a group, so its variance is undefined.
	ErrTooFew = errors.New("too few users for a variance")

	// ErrNotFinite is returned when a mean, variance or outcome is NaN or
	// infinite, or a variance is negative.
	ErrNotFinite = errors.New("non-finite value")

	// ErrPlan is returned by the planning functions for a baseline, effect,
	// power or alpha outside its valid range.
	ErrPlan = errors.New("invalid planning parameter")
)
