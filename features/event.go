package features

import "time"

// Event is one row of behavioural history: who did what, when, for how much.
//
// Amount is the signed money value of the event: positive for revenue,
// negative for refunds and cancellations, zero when the export has none.
// Props holds the extra columns of the input as strings, keyed by column name;
// it is nil when the row has none.
type Event struct {
	UserID string
	Name   string
	Time   time.Time
	Amount float64
	Props  map[string]string
}
