package synth

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrInvalidConfig is wrapped by Config.Validate when a field is out of range.
var ErrInvalidConfig = errors.New("invalid generator config")

// MaxUsers bounds Config.Users so that per-user state stays well within memory.
const MaxUsers = 50_000_000

// MaxDays bounds Config.Days (about 50 years).
const MaxDays = 20_000

// Config describes one synthetic history. The zero value of each field
// means its default (see DefaultConfig).
type Config struct {
	// Users is the number of distinct users over the whole history; 0 means 1000.
	Users int
	// Days is the length of the history in days; 0 means 365.
	Days int
	// Start is the first day of the history. It is truncated to a UTC day;
	// the zero time means 2025-01-01.
	Start time.Time
	// Seed selects the random streams. The same seed and sizes give the same
	// history, byte for byte.
	Seed uint64
}

// DefaultConfig returns a fresh Config with every default filled in.
func DefaultConfig() *Config {
	return &Config{
		Users: 1000,
		Days:  365,
		Start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		Seed:  1,
	}
}

// withDefaults returns a copy of c (nil means DefaultConfig) with zero
// fields replaced by their defaults.
func (c *Config) withDefaults() Config {
	d := DefaultConfig()
	if c == nil {
		return *d
	}
	out := *c
	if out.Users == 0 {
		out.Users = d.Users
	}
	if out.Days == 0 {
		out.Days = d.Days
	}
	if out.Start.IsZero() {
		out.Start = d.Start
	}
	out.Start = dayStart(out.Start)
	return out
}

// Validate reports every out-of-range field at once. Zero fields are valid
// (they mean defaults); a nil Config is valid.
func (c *Config) Validate() error {
	if c == nil {
		return nil
	}
	var probs []string
	if c.Users < 0 || c.Users > MaxUsers {
		probs = append(probs, fmt.Sprintf("Users (%d) must be in 1..%d", c.Users, MaxUsers))
	}
	if c.Days < 0 || c.Days > MaxDays {
		probs = append(probs, fmt.Sprintf("Days (%d) must be in 1..%d", c.Days, MaxDays))
	}
	if !c.Start.IsZero() && (c.Start.Year() < 1970 || c.Start.Year() > 9000) {
		probs = append(probs, fmt.Sprintf("Start (%s) must be between 1970 and 9000", c.Start.Format(time.RFC3339)))
	}
	if len(probs) > 0 {
		return fmt.Errorf("synth: %w: %s", ErrInvalidConfig, strings.Join(probs, "; "))
	}
	return nil
}

// dayStart truncates t to the start of its UTC day.
func dayStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}
