package features

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// SpecVersion is the Spec format version written by this package. A Spec with
// another version fails Validate.
const SpecVersion = 1

// OtherType is the usage bucket that collects every event type outside the
// vocabulary. It can therefore not be a vocabulary entry itself.
const OtherType = "other"

// Limits that Validate enforces.
const (
	// MaxWindowDays is the largest window or eligibility period, in days.
	MaxWindowDays = 3660
	// MaxVocabulary is the largest vocabulary (and VocabularySize).
	MaxVocabulary = 1000
	// trendDays is the span of ages read by trend_30d (ages 1..60).
	trendDays = 60
)

// intentWindows are the windows of the intent and friction features; they are
// fixed by the design and do not follow Spec.Windows.
var intentWindows = [2]int32{7, 30}

// Errors about specs and states.
var (
	// ErrInvalidSpec means a Spec failed Validate; the wrapping error lists
	// every bad field.
	ErrInvalidSpec = errors.New("invalid feature spec")
	// ErrSpecMismatch means a State was built under a Spec whose activity,
	// purchase or target events or longest window differ from the Spec it is
	// used with.
	ErrSpecMismatch = errors.New("state was built with a different feature spec")
)

// Transform is the transform a model applies to a raw feature value before
// standardising it. Vectors computed by this package are always raw.
type Transform string

// The transforms a Spec may name.
const (
	// TransformNone leaves the value as is.
	TransformNone Transform = "none"
	// TransformLog1p maps x to log(1+x); used for counts, money and days.
	TransformLog1p Transform = "log1p"
)

// Apply returns the transformed value of x. An unknown transform leaves x
// unchanged; Spec.Validate rejects unknown transforms.
func (t Transform) Apply(x float64) float64 {
	if t == TransformLog1p {
		return math.Log1p(x)
	}
	return x
}

// Feature is one named column of a feature vector and the transform a model
// should apply to it.
type Feature struct {
	Name      string    `json:"name"`
	Transform Transform `json:"transform"`
}

// Spec fixes the feature set: which columns a vector has, in which order, and
// how each is computed. Training learns it (vocabulary and intent families
// from the data before the cutoff) and stores it in the model; serving
// computes vectors with the same Spec, so both sides agree bit for bit.
//
// A Spec is plain data and JSON-serialisable. Features must equal what Derive
// computes from the other fields; Validate checks it. Do not modify a Spec
// while a Featurizer or Builder made from it is in use.
type Spec struct {
	// Version is the format version, SpecVersion.
	Version int `json:"version"`
	// Windows are the window lengths in days, strictly ascending.
	Windows []int `json:"windows"`
	// VocabularySize is K, the number of most frequent event types a learned
	// vocabulary keeps. It is only read when learning.
	VocabularySize int `json:"vocabulary_size"`
	// Vocabulary lists the event types that get their own usage columns;
	// every other type counts as OtherType.
	Vocabulary []string `json:"vocabulary"`
	// ActivityEvents lists the event types that count as activity for
	// recency, tenure, frequency, rhythm, time of day, eligibility and churn.
	// Empty means every event is activity.
	ActivityEvents []string `json:"activity_events"`
	// PurchaseEvents lists the event types that are orders: their positive
	// amounts are revenue and each one with a non-negative amount is an order.
	PurchaseEvents []string `json:"purchase_events"`
	// TargetEvent is the event type that propensity labels predict. It also
	// counts as a purchase for recency_purchase_days and ever_purchased.
	TargetEvent string `json:"target_event"`
	// CartEvents, PricingEvents, CancelEvents and SupportEvents are the intent
	// and friction families. A family with an empty list has no features; a
	// learned Spec keeps only the names seen before the cutoff.
	CartEvents    []string `json:"cart_events"`
	PricingEvents []string `json:"pricing_events"`
	CancelEvents  []string `json:"cancel_events"`
	SupportEvents []string `json:"support_events"`
	// EligibilityDays is L: a user is eligible at cutoff T when they have an
	// activity event with age 1..L days.
	EligibilityDays int `json:"eligibility_days"`
	// Features is the ordered list of columns with their transforms, as set
	// by Derive.
	Features []Feature `json:"features"`
}

// Default event-name lists used by DefaultSpec.
var (
	defaultPurchaseEvents = []string{"purchase", "order"}
	defaultCartEvents     = []string{"add_to_cart", "cart", "cart_add", "checkout_start"}
	defaultPricingEvents  = []string{"view_pricing", "pricing_view", "pricing"}
	defaultCancelEvents   = []string{"cancel_page", "view_cancel", "cancel_subscription_view"}
	defaultSupportEvents  = []string{"support_ticket", "ticket", "support_contact"}
)

// DefaultSpec returns a fresh Spec with the default settings: windows 7, 30,
// 90 and 365 days, K = 20, an empty vocabulary (a Builder learns it), every
// event as activity, purchase events "purchase" and "order", target
// "purchase", the default intent families, L = 90, and Features derived.
func DefaultSpec() *Spec {
	s := &Spec{
		Version:         SpecVersion,
		Windows:         []int{7, 30, 90, 365},
		VocabularySize:  20,
		PurchaseEvents:  slices.Clone(defaultPurchaseEvents),
		TargetEvent:     "purchase",
		CartEvents:      slices.Clone(defaultCartEvents),
		PricingEvents:   slices.Clone(defaultPricingEvents),
		CancelEvents:    slices.Clone(defaultCancelEvents),
		SupportEvents:   slices.Clone(defaultSupportEvents),
		EligibilityDays: 90,
	}
	s.Derive()
	return s
}

// Clone returns a deep copy of s.
func (s *Spec) Clone() *Spec {
	c := *s
	c.Windows = slices.Clone(s.Windows)
	c.Vocabulary = slices.Clone(s.Vocabulary)
	c.ActivityEvents = slices.Clone(s.ActivityEvents)
	c.PurchaseEvents = slices.Clone(s.PurchaseEvents)
	c.CartEvents = slices.Clone(s.CartEvents)
	c.PricingEvents = slices.Clone(s.PricingEvents)
	c.CancelEvents = slices.Clone(s.CancelEvents)
	c.SupportEvents = slices.Clone(s.SupportEvents)
	c.Features = slices.Clone(s.Features)
	return &c
}

// Derive sets Features from the other fields, with the default transform of
// each feature. Call it after changing windows, vocabulary or event lists.
func (s *Spec) Derive() {
	names := s.Names()
	s.Features = make([]Feature, len(names))
	for i, n := range names {
		s.Features[i] = Feature{Name: n, Transform: defaultTransform(n)}
	}
}

// defaultTransform is log1p for non-negative heavy-tailed quantities (counts,
// money, days) and none for flags, ratios, shares and the hour.
func defaultTransform(name string) Transform {
	switch {
	case name == "ever_purchased", name == "trend_30d", name == "weekend_share",
		name == "peak_hour", strings.HasPrefix(name, "distinct_types_"):
		return TransformNone
	}
	return TransformLog1p
}

// Names returns the ordered feature names implied by the windows, vocabulary
// and intent families (see docs/DESIGN.md for the definitions):
//
//	recency_days recency_purchase_days ever_purchased tenure_days
//	events_{w}d... active_days_{w}d... events_total
//	revenue_{w}d... orders_{w}d... refunds_{w}d... revenue_total orders_total aov
//	n_{t}_{w}d (t in vocabulary, then other)... distinct_types_{w}d...
//	trend_30d gap_mean_days gap_std_days overdue prev_gap_days
//	cart_without_purchase_{7,30}d pricing_views_{7,30}d cancel_views_{7,30}d
//	support_tickets_{7,30}d (each family only when its list is non-empty)
//	weekend_share peak_hour
func (s *Spec) Names() []string {
	ws := make([]string, len(s.Windows))
	for i, w := range s.Windows {
		ws[i] = strconv.Itoa(w)
	}
	var n []string
	perWindow := func(prefix string) {
		for _, w := range ws {
			n = append(n, prefix+w+"d")
		}
	}
	n = append(n, "recency_days", "recency_purchase_days", "ever_purchased", "tenure_days")
	perWindow("events_")
	perWindow("active_days_")
	n = append(n, "events_total")
	perWindow("revenue_")
	perWindow("orders_")
	perWindow("refunds_")
	n = append(n, "revenue_total", "orders_total", "aov")
	for _, t := range s.Vocabulary {
		perWindow("n_" + t + "_")
	}
	perWindow("n_" + OtherType + "_")
	perWindow("distinct_types_")
	n = append(n, "trend_30d", "gap_mean_days", "gap_std_days", "overdue", "prev_gap_days")
	for _, f := range s.families() {
		if len(f.events) > 0 {
			n = append(n, f.prefix+"7d", f.prefix+"30d")
		}
	}
	n = append(n, "weekend_share", "peak_hour")
	return n
}

// family is one intent or friction family: its events and its name prefix.
type family struct {
	prefix string
	events []string
}

// families returns the four intent and friction families in feature order.
func (s *Spec) families() [4]family {
	return [4]family{
		{"cart_without_purchase_", s.CartEvents},
		{"pricing_views_", s.PricingEvents},
		{"cancel_views_", s.CancelEvents},
		{"support_tickets_", s.SupportEvents},
	}
}

// Validate reports every problem with s in one error that wraps
// ErrInvalidSpec, or nil when s is usable.
func (s *Spec) Validate() error {
	if s == nil {
		return fmt.Errorf("features: nil spec: %w", ErrInvalidSpec)
	}
	var bad []string
	add := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	if s.Version != SpecVersion {
		add("version %d is not %d", s.Version, SpecVersion)
	}
	if len(s.Windows) == 0 {
		add("windows: empty")
	}
	for i, w := range s.Windows {
		if w < 1 || w > MaxWindowDays {
			add("windows[%d] = %d: want 1..%d days", i, w, MaxWindowDays)
		}
		if i > 0 && w <= s.Windows[i-1] {
			add("windows[%d] = %d: not greater than windows[%d] = %d", i, w, i-1, s.Windows[i-1])
		}
	}
	if s.VocabularySize < 0 || s.VocabularySize > MaxVocabulary {
		add("vocabulary_size %d: want 0..%d", s.VocabularySize, MaxVocabulary)
	}
	if len(s.Vocabulary) > MaxVocabulary {
		add("vocabulary: %d entries, at most %d", len(s.Vocabulary), MaxVocabulary)
	}
	checkNames := func(field string, names []string) {
		seen := make(map[string]bool, len(names))
		for i, n := range names {
			switch {
			case n == "":
				add("%s[%d]: empty event name", field, i)
			case seen[n]:
				add("%s[%d]: duplicate %q", field, i, n)
			}
			seen[n] = true
		}
	}
	checkNames("vocabulary", s.Vocabulary)
	if slices.Contains(s.Vocabulary, OtherType) {
		add("vocabulary: %q is reserved for the bucket of all other types", OtherType)
	}
	checkNames("activity_events", s.ActivityEvents)
	checkNames("purchase_events", s.PurchaseEvents)
	checkNames("cart_events", s.CartEvents)
	checkNames("pricing_events", s.PricingEvents)
	checkNames("cancel_events", s.CancelEvents)
	checkNames("support_events", s.SupportEvents)
	if s.TargetEvent == "" {
		add("target_event: empty")
	}
	if s.EligibilityDays < 1 || s.EligibilityDays > MaxWindowDays {
		add("eligibility_days %d: want 1..%d", s.EligibilityDays, MaxWindowDays)
	}
	names := s.Names()
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if seen[n] {
			add("features: duplicate name %q", n)
		}
		seen[n] = true
	}
	if len(s.Features) != len(names) {
		add("features: %d entries, the other fields imply %d (call Derive)", len(s.Features), len(names))
	}
	for i, f := range s.Features {
		if i < len(names) && f.Name != names[i] {
			add("features[%d]: name %q, want %q (call Derive)", i, f.Name, names[i])
		}
		if f.Transform != TransformNone && f.Transform != TransformLog1p {
			add("features[%d] %q: unknown transform %q", i, f.Name, f.Transform)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("features: %w: %s", ErrInvalidSpec, strings.Join(bad, "; "))
}

// ParseSpec decodes a JSON Spec and validates it. Unknown fields are errors,
// so that a misspelt field is not silently ignored.
func ParseSpec(data []byte) (*Spec, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	var s Spec
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("features: decode spec: %w", err)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// retentionDays is R, how many days of daily cells a State keeps: the longest
// window, and at least the 60 days read by trend_30d.
func (s *Spec) retentionDays() int32 {
	r := int32(trendDays)
	if n := len(s.Windows); n > 0 && int32(s.Windows[n-1]) > r {
		r = int32(s.Windows[n-1])
	}
	return r
}

// maxWindow returns the longest window in days.
func (s *Spec) maxWindow() int32 {
	if len(s.Windows) == 0 {
		return 0
	}
	return int32(s.Windows[len(s.Windows)-1])
}
