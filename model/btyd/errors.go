package btyd

import "errors"

// These errors are returned when parameters or options are checked.
var (
	// ErrInvalidParams is returned when a model parameter is not a finite
	// positive number.
	ErrInvalidParams = errors.New("btyd: invalid model parameters")

	// ErrInvalidInput is returned when a customer's statistics are outside
	// the model's domain (x < 0, t_x < 0, t_x > T, t < 0, or not finite).
	ErrInvalidInput = errors.New("btyd: invalid customer statistics")

	// ErrInvalidOptions is returned by CLVOptions.Validate and by CLV for
	// a bad horizon, discount rate or time unit.
	ErrInvalidOptions = errors.New("btyd: invalid options")
)

// These errors are returned by the numerical routines.
var (
	// ErrNoConvergence is returned when the hypergeometric series did not
	// settle within its term limit, or overflowed.
	ErrNoConvergence = errors.New("btyd: hypergeometric series did not converge")

	// ErrDomain is returned by Hyp2F1 for arguments outside the range it
	// supports (|z| >= 1, or c a non-positive integer).
	ErrDomain = errors.New("btyd: argument outside the supported domain")
)
