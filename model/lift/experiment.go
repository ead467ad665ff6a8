package lift

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Experiment is a stored campaign experiment: who was targeted, how they
// were split, and when it started. Its membership (the Assignments stored
// with it) never changes once created. It is encoded as JSON by the store.
type Experiment struct {
	// Name identifies the experiment; it is part of the assignment key.
	Name string `json:"name"`
	// Salt is mixed into the assignment key with Name (may be empty).
	Salt string `json:"salt"`
	// Target is the targeting rule, as given.
	Target Target `json:"target"`
	// Holdout is the configured control share in [0, 1].
	Holdout float64 `json:"holdout"`
	// Stratify names the attribute whose strata get equal control shares
	// ("" for plain hash assignment, or e.g. "risk_band").
	Stratify string `json:"stratify,omitempty"`
	// Start is when the campaign starts: lift reads outcomes at or after it.
	Start time.Time `json:"start"`
	// CreatedAt is when the experiment was created (wall clock).
	CreatedAt time.Time `json:"created_at"`
	// ModelVersion is the model whose stored scores the targeting used.
	ModelVersion string `json:"model_version"`
	// TargetEvent is the model's propensity target, the conversion metric.
	TargetEvent string `json:"target_event,omitempty"`
	// Treatment and Control count the assigned users of each group.
	Treatment int `json:"treatment"`
	Control   int `json:"control"`
	// Active experiments suppress their control users from exports.
	Active bool `json:"active"`
}

// Target is an experiment's targeting rule: exactly one of its fields is
// set.
type Target struct {
	// Segment is "family/name", e.g. "lifecycle_stage/at-risk".
	Segment string `json:"segment,omitempty"`
	// RiskBand is "high", "medium" or "low".
	RiskBand string `json:"risk_band,omitempty"`
	// MinChurn selects users whose churn probability is at least it.
	MinChurn *float64 `json:"min_churn,omitempty"`
	// Users is the name of the file the user list came from.
	Users string `json:"users,omitempty"`
}

// Assignment is one user's group in an experiment, with the scores the
// targeting saw at assignment time.
type Assignment struct {
	UserID string `json:"user_id"`
	Group  Group  `json:"group"`
	// Stratum is the user's value of the experiment's Stratify attribute.
	Stratum string `json:"stratum,omitempty"`
	// ChurnProbability, RiskBand, Segment, LifecycleStage, RFMSegment and
	// UsageTier are the user's stored scores when the experiment was
	// created (zero for users without a stored score, e.g. from a user
	// file, which have Scored false).
	ChurnProbability float64 `json:"churn_probability"`
	RiskBand         string  `json:"risk_band,omitempty"`
	Segment          string  `json:"segment,omitempty"`
	LifecycleStage   string  `json:"lifecycle_stage,omitempty"`
	RFMSegment       string  `json:"rfm_segment,omitempty"`
	UsageTier        string  `json:"usage_tier,omitempty"`
	Scored           bool    `json:"scored"`
}

// GlobalControl is the stable share of all users held out of every
// campaign export (see InGlobalControl).
type GlobalControl struct {
	Share     float64   `json:"share"`
	Salt      string    `json:"salt"`
	CreatedAt time.Time `json:"created_at"`
}

// Holds reports whether userID is in the global control group.
func (g *GlobalControl) Holds(userID string) bool {
	return g != nil && g.Share > 0 && InGlobalControl(g.Salt, userID, g.Share)
}

// ErrExperimentName is returned by CheckName for an unusable name.
var ErrExperimentName = errors.New("invalid experiment name")

// CheckName reports whether name can name an experiment: 1 to 128 bytes
// of UTF-8 letters, digits and "-_.", so that it is safe in URLs, file
// names and store keys.
func CheckName(name string) error {
	if name == "" || len(name) > 128 || !utf8.ValidString(name) {
		return fmt.Errorf("lift: experiment name %q: %w: want 1 to 128 characters", name, ErrExperimentName)
	}
	for _, r := range name {
		ok := r == '-' || r == '_' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !ok {
			return fmt.Errorf("lift: experiment name %q: %w: %q is not a letter, digit, '-', '_' or '.'", name, ErrExperimentName, r)
		}
	}
	return nil
}
