package serving

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lapse-dev/lapse/features"
	"github.com/lapse-dev/lapse/model"
	"github.com/lapse-dev/lapse/model/lift"
)

// ExperimentStore holds experiments with their assignments. Experiments
// are created whole (CreateExperiment) and never change membership
// afterwards; only their active flag moves.
type ExperimentStore interface {
	// CreateExperiment stores exp with its assignments atomically; it
	// fails when the name is taken.
	CreateExperiment(ctx context.Context, exp *lift.Experiment, as []lift.Assignment) error
	// Experiment returns the named experiment; nil and no error when
	// there is none.
	Experiment(ctx context.Context, name string) (*lift.Experiment, error)
	// ListExperiments returns every experiment, by name.
	ListExperiments(ctx context.Context) ([]lift.Experiment, error)
	// EachAssignment calls fn with each assignment of the experiment, in
	// user-id order, inside one read transaction. a is valid only during
	// the call.
	EachAssignment(ctx context.Context, name string, fn func(a *lift.Assignment) error) error
	// SetExperimentActive sets whether the experiment's control users are
	// suppressed from exports.
	SetExperimentActive(ctx context.Context, name string, active bool) error
}

// ExperimentCreator is what CreateExperiment reads and writes: the active
// model and its stored scores, suppression, and the experiments. *store.Store (serving/store)
// satisfies it, so lapse experiment create and POST /v1/experiments share
// one implementation.
type ExperimentCreator interface {
	ExperimentSelector
	Experiment(ctx context.Context, name string) (*lift.Experiment, error)
	CreateExperiment(ctx context.Context, exp *lift.Experiment, as []lift.Assignment) error
}

// DefaultHoldout is the control share of an experiment when the request
// gives none.
const DefaultHoldout = 0.1

// MaxExperimentUsers bounds the explicit user list of one request.
const MaxExperimentUsers = 1_000_000

// ExperimentRequest asks for a new experiment: the body of POST
// /v1/experiments and what lapse experiment create builds from its flags.
// Exactly one targeting rule (Segment, RiskBand, MinChurn, Users) is set.
type ExperimentRequest struct {
	// Name names the experiment (see lift.CheckName); it keys the
	// assignment hash.
	Name string `json:"name"`
	// Salt is mixed into the assignment key with Name; optional.
	Salt string `json:"salt,omitempty"`
	// Segment targets one segment of the active model's stored scores:
	// "FAMILY/NAME" with FAMILY one of risk_band, segment, rfm_segment,
	// lifecycle_stage, usage_tier (e.g. "lifecycle_stage/at-risk").
	Segment string `json:"segment,omitempty"`
	// RiskBand targets a risk band: high, medium or low.
	RiskBand string `json:"risk_band,omitempty"`
	// MinChurn targets users whose stored churn probability is at least it.
	MinChurn *float64 `json:"min_churn,omitempty"`
	// Users targets an explicit list of user ids; users without a stored
	// score are assigned too, as unscored.
	Users []string `json:"users,omitempty"`
	// UsersSource names where Users came from (a file name), for the
	// stored targeting rule; "" means the request body.
	UsersSource string `json:"-"`
	// Holdout is the control share in (0, 1); nil means DefaultHoldout.
	Holdout *float64 `json:"holdout,omitempty"`
	// Stratify gives each stratum of this attribute (one of
	// lift.Attributes, e.g. "risk_band") the same control share; "" is
	// plain hash assignment.
	Stratify string `json:"stratify,omitempty"`
	// Start is when the campaign starts; outcomes count from the first
	// UTC midnight at or after it. nil means now.
	Start *time.Time `json:"start,omitempty"`
}

// Validate reports every problem with the request, each naming its field.
func (r *ExperimentRequest) Validate() error {
	var bad []string
	add := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	if err := lift.CheckName(r.Name); err != nil {
		add("name %q: %s", r.Name, strings.TrimPrefix(err.Error(), fmt.Sprintf("lift: experiment name %q: %v: ", r.Name, lift.ErrExperimentName)))
	}
	if len(r.Salt) > 256 || !validText(r.Salt) {
		add("salt: want at most 256 bytes of printable UTF-8")
	}
	rules := 0
	if r.Segment != "" {
		rules++
		fam, name, ok := strings.Cut(r.Segment, "/")
		if _, known := familyNamed(fam); !ok || !known || name == "" {
			add("segment %q: want FAMILY/NAME with FAMILY one of %s", r.Segment, familyList())
		}
	}
	if r.RiskBand != "" {
		rules++
		if !slices.Contains([]string{model.BandHigh, model.BandMedium, model.BandLow}, r.RiskBand) {
			add("risk_band %q: want high, medium or low", r.RiskBand)
		}
	}
	if r.MinChurn != nil {
		rules++
		if v := *r.MinChurn; !(v >= 0 && v <= 1) {
			add("min_churn %v: want a probability in [0, 1]", v)
		}
	}
	if r.Users != nil {
		rules++
		switch {
		case len(r.Users) == 0:
			add("users: the list is empty")
		case len(r.Users) > MaxExperimentUsers:
			add("users: %d ids, the limit is %d", len(r.Users), MaxExperimentUsers)
		}
		for i, id := range r.Users {
			if err := CheckID("user id", id); err != nil {
				add("users[%d]: %v", i, err)
				break
			}
		}
	}
	if rules != 1 {
		add("want exactly one targeting rule (segment, risk_band, min_churn or users), got %d", rules)
	}
	if r.Holdout != nil {
		if h := *r.Holdout; !(h > 0 && h < 1) {
			add("holdout %v: want a control share in (0, 1)", h)
		}
	}
	if r.Stratify != "" {
		if err := lift.CheckAttribute(r.Stratify); err != nil {
			add("stratify %q: want one of %s", r.Stratify, strings.Join(lift.Attributes, ", "))
		}
	}
	if r.Start != nil && (r.Start.IsZero() || r.Start.Year() < 1900 || r.Start.Year() > 9999) {
		add("start %v: want a time between the years 1900 and 9999", r.Start.Format(time.RFC3339))
	}
	if len(bad) == 0 {
		return nil
	}
	return Errorf(CodeInvalid, "invalid experiment: %s", strings.Join(bad, "; "))
}

func validText(s string) bool { return s == "" || CheckID("", s) == nil }

func familyList() string {
	names := make([]string, len(families))
	for i, f := range families {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}

// ExperimentCreated is the answer of POST /v1/experiments: the stored
// experiment and how its membership came about.
type ExperimentCreated struct {
	Experiment lift.Experiment `json:"experiment"`
	// Targeted is the number of users the rule selected.
	Targeted int `json:"targeted"`
	// Suppressed is the number of targeted users left out: opted out, in
	// the global control group, or in the control group of an active
	// experiment (they cannot be treated, so they cannot be compared).
	Suppressed int `json:"suppressed"`
	// Unscored counts listed users without a stored score (assigned, with
	// the attribute "unscored").
	Unscored int `json:"unscored"`
	// Duplicates counts repeated ids in the user list (assigned once).
	Duplicates int `json:"duplicates"`
}

// scanChunk is the number of users whose suppression or state is read per
// store call.
const scanChunk = 1000

// ExperimentSelector is what SelectUsers reads: the active model, its
// stored scores and suppression.
type ExperimentSelector interface {
	ActiveModel(ctx context.Context) (*model.Model, error)
	EachScore(ctx context.Context, version, after string, fn func(id string, p *model.Prediction) error) error
	LoadScores(ctx context.Context, version string, ids []string, fn func(i int, score *model.Prediction) error) error
	Suppressed(ctx context.Context, ids []string, out []bool) error
}

// Selection is the outcome of a targeting rule: the users an experiment
// would assign, with their scores, before the split.
type Selection struct {
	// Model is the active model whose stored scores were read.
	Model *model.Model
	// Spec is the model's feature spec.
	Spec *features.Spec
	// Target is the rule as it is stored with the experiment.
	Target lift.Target
	// Users are the selected users that are not suppressed, in user-id
	// order, with their scores at selection time and no group yet.
	Users []lift.Assignment
	// Targeted, Suppressed, Unscored and Duplicates count as
	// ExperimentCreated does.
	Targeted, Suppressed, Unscored, Duplicates int
}

// SelectUsers applies req's targeting rule (its other fields are not
// needed, but it must pass Validate) to the active model's stored scores,
// or looks up req.Users, and leaves out suppressed users. lapse experiment
// plan uses it to size a segment; CreateExperiment to fill one.
func SelectUsers(ctx context.Context, st ExperimentSelector, req *ExperimentRequest) (*Selection, error) {
	m, err := st.ActiveModel(ctx)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, Errorf(CodeNoModel, "no model is active: train one with lapse train --store FILE first; experiments target its stored scores")
	}
	spec, err := features.ParseSpec(m.Spec)
	if err != nil {
		return nil, fmt.Errorf("serving: model %s: feature spec: %w", m.Version, err)
	}
	sel := &Selection{Model: m, Spec: spec}
	var as []lift.Assignment
	switch {
	case req.Users != nil:
		sel.Target.Users = req.UsersSource
		if sel.Target.Users == "" {
			sel.Target.Users = fmt.Sprintf("request (%d ids)", len(req.Users))
		}
		as, err = listedUsers(ctx, st, m.Version, req.Users, sel)
	default:
		var match func(p *model.Prediction) bool
		switch {
		case req.Segment != "":
			sel.Target.Segment = req.Segment
			famName, name, _ := strings.Cut(req.Segment, "/")
			fam, ok := familyNamed(famName)
			if !ok {
				return nil, Errorf(CodeInvalid, "segment %q: no family %q", req.Segment, famName)
			}
			match = func(p *model.Prediction) bool { return fam.of(p) == name }
		case req.RiskBand != "":
			sel.Target.RiskBand = req.RiskBand
			match = func(p *model.Prediction) bool { return p.RiskBand == req.RiskBand }
		case req.MinChurn != nil:
			v := *req.MinChurn
			sel.Target.MinChurn = &v
			match = func(p *model.Prediction) bool { return p.ChurnProbability >= v }
		default:
			return nil, Errorf(CodeInvalid, "no targeting rule")
		}
		err = st.EachScore(ctx, m.Version, "", func(id string, p *model.Prediction) error {
			if match(p) {
				as = append(as, assignmentOf(id, p))
			}
			return nil
		})
	}
	if err != nil {
		return nil, err
	}
	sel.Targeted = len(as)
	if len(as) == 0 {
		return nil, Errorf(CodeInvalid, "the targeting rule %s selects no user of model %s", targetText(&sel.Target), m.Version)
	}
	if sel.Users, err = dropSuppressed(ctx, st, as); err != nil {
		return nil, err
	}
	sel.Suppressed = sel.Targeted - len(sel.Users)
	return sel, nil
}

// CreateExperiment selects the users of req's targeting rule from the
// active model's stored scores (or req.Users), leaves out suppressed users,
// assigns the rest to treatment or control by the keyed hash of (name,
// salt) (lift.Assign, or lift.AssignStratified with req.Stratify), records
// each user's scores at assignment time, and stores the experiment with
// its assignments atomically, active. now is the creation time and the
// default start. Errors are *Error values with a code for the API: invalid
// requests, a taken name (conflict), no active model, or an empty group.
func CreateExperiment(ctx context.Context, st ExperimentCreator, req *ExperimentRequest, now time.Time) (*ExperimentCreated, []lift.Assignment, error) {
	if err := req.Validate(); err != nil {
		return nil, nil, err
	}
	if err := checkFreeName(ctx, st, req.Name); err != nil {
		return nil, nil, err
	}
	sel, err := SelectUsers(ctx, st, req)
	if err != nil {
		return nil, nil, err
	}
	holdout := DefaultHoldout
	if req.Holdout != nil {
		holdout = *req.Holdout
	}
	start := now
	if req.Start != nil {
		start = *req.Start
	}
	exp := &lift.Experiment{
		Name:         req.Name,
		Salt:         req.Salt,
		Target:       sel.Target,
		Holdout:      holdout,
		Stratify:     req.Stratify,
		Start:        start.UTC(),
		CreatedAt:    now.UTC(),
		ModelVersion: sel.Model.Version,
		TargetEvent:  sel.Spec.TargetEvent,
		Active:       true,
	}
	as := sel.Users
	if err := assign(exp, as); err != nil {
		return nil, nil, err
	}
	if exp.Treatment == 0 || exp.Control == 0 {
		return nil, nil, Errorf(CodeInvalid, "the split of %d users at holdout %v leaves the %s group empty: target more users or change the holdout",
			len(as), holdout, map[bool]string{true: "treatment", false: "control"}[exp.Treatment == 0])
	}
	if err := st.CreateExperiment(ctx, exp, as); err != nil {
		// Two requests may race for one name: the loser's store error is
		// a conflict, whatever the store calls it.
		if cerr := checkFreeName(ctx, st, req.Name); cerr != nil && ErrorCode(cerr) == CodeConflict {
			return nil, nil, cerr
		}
		return nil, nil, err
	}
	res := &ExperimentCreated{Experiment: *exp, Targeted: sel.Targeted, Suppressed: sel.Suppressed,
		Unscored: sel.Unscored, Duplicates: sel.Duplicates}
	return res, as, nil
}

// checkFreeName returns a conflict error when an experiment has the name.
func checkFreeName(ctx context.Context, st ExperimentCreator, name string) error {
	old, err := st.Experiment(ctx, name)
	if err != nil {
		return err
	}
	if old != nil {
		return Errorf(CodeConflict, "an experiment named %q exists (created %s); experiments never change membership, so pick a new name",
			name, old.CreatedAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// targetText describes a targeting rule.
func targetText(t *lift.Target) string {
	switch {
	case t.Segment != "":
		return "segment " + t.Segment
	case t.RiskBand != "":
		return "risk band " + t.RiskBand
	case t.MinChurn != nil:
		return fmt.Sprintf("churn probability >= %v", *t.MinChurn)
	}
	return "users from " + t.Users
}

// assignmentOf records a user's stored scores at assignment time.
func assignmentOf(id string, p *model.Prediction) lift.Assignment {
	return lift.Assignment{
		UserID:           id,
		ChurnProbability: p.ChurnProbability,
		RiskBand:         p.RiskBand,
		Segment:          p.Segment,
		LifecycleStage:   p.LifecycleStage,
		RFMSegment:       p.RFMSegment,
		UsageTier:        p.UsageTier,
		Scored:           true,
	}
}

// listedUsers looks up the stored scores of an explicit user list with one
// scan of the version's scores, and returns the users sorted by id without
// duplicates; listed users without a score are unscored.
func listedUsers(ctx context.Context, st ExperimentSelector, version string, users []string, sel *Selection) ([]lift.Assignment, error) {
	ids := slices.Clone(users)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	sel.Duplicates = len(users) - len(ids)
	as := make([]lift.Assignment, len(ids))
	for i, id := range ids {
		as[i] = lift.Assignment{UserID: id}
	}
	err := st.EachScore(ctx, version, "", func(id string, p *model.Prediction) error {
		if i, ok := slices.BinarySearch(ids, id); ok {
			as[i] = assignmentOf(id, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range as {
		if !as[i].Scored {
			sel.Unscored++
		}
	}
	return as, nil
}

// dropSuppressed removes the users the store suppresses, asking in chunks.
func dropSuppressed(ctx context.Context, st ExperimentSelector, as []lift.Assignment) ([]lift.Assignment, error) {
	keep := as[:0]
	ids := make([]string, 0, scanChunk)
	sup := make([]bool, scanChunk)
	for lo := 0; lo < len(as); lo += scanChunk {
		chunk := as[lo:min(lo+scanChunk, len(as))]
		ids = ids[:0]
		for i := range chunk {
			ids = append(ids, chunk[i].UserID)
		}
		if err := st.Suppressed(ctx, ids, sup[:len(ids)]); err != nil {
			return nil, err
		}
		for i := range chunk {
			if !sup[i] {
				keep = append(keep, chunk[i])
			}
		}
	}
	return keep, nil
}

// assign sets every assignment's group and stratum and the experiment's
// group counts.
func assign(exp *lift.Experiment, as []lift.Assignment) error {
	if exp.Stratify == "" {
		a := lift.NewAssigner(exp.Name, exp.Salt)
		for i := range as {
			as[i].Group = a.Group(as[i].UserID, exp.Holdout)
		}
	} else {
		members := make([]lift.Member, len(as))
		for i := range as {
			s, err := as[i].Attribute(exp.Stratify)
			if err != nil {
				return Errorf(CodeInvalid, "stratify: %v", err)
			}
			as[i].Stratum = s
			members[i] = lift.Member{UserID: as[i].UserID, Stratum: s}
		}
		groups, err := lift.AssignStratified(exp.Name, exp.Salt, members, exp.Holdout)
		if err != nil {
			return fmt.Errorf("serving: assign: %w", err)
		}
		for i := range as {
			as[i].Group = groups[i]
		}
	}
	exp.Treatment, exp.Control = 0, 0
	for i := range as {
		if as[i].Group == lift.Control {
			exp.Control++
		} else {
			exp.Treatment++
		}
	}
	return nil
}

// DefaultLiftWindow is the outcome window of GET
// /v1/experiments/{name}/lift and lapse lift when none is given.
const DefaultLiftWindow = 30

// UsersStates is what LiftFromStates reads: the users' stored states.
type UsersStates interface {
	LoadUsers(ctx context.Context, version string, ids []string, fn func(i int, state []byte, score *model.Prediction) error) error
}

// LiftFromStates measures an experiment from the per-user feature states
// stored under model m (the active model, whose states ingested events
// update): each assigned user's outcome in the window of days days from
// the experiment's start (features.OutcomeWindow), read from the state's
// daily cells with m's event classes; a user without a stored state had no
// event. now is how far the data reach. It returns a conflict error when
// the window starts after now or the states no longer keep the window's
// days.
func LiftFromStates(ctx context.Context, st UsersStates, m *model.Model, exp *lift.Experiment, as []lift.Assignment, days int, now time.Time) (*lift.Report, error) {
	f, err := featurizerOf(m)
	if err != nil {
		return nil, err
	}
	w, err := features.NewOutcomeWindow(exp.Start, days)
	if err != nil {
		return nil, Errorf(CodeInvalid, "window: %v", err)
	}
	if now.Before(w.First()) {
		return nil, Errorf(CodeConflict, "experiment %s has no outcomes yet: its window starts %s, after now (%s)",
			exp.Name, w.First().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	outs := make([]lift.Outcome, len(as))
	ids := make([]string, 0, scanChunk)
	for lo := 0; lo < len(as); lo += scanChunk {
		chunk := as[lo:min(lo+scanChunk, len(as))]
		ids = ids[:0]
		for i := range chunk {
			ids = append(ids, chunk[i].UserID)
		}
		err := st.LoadUsers(ctx, m.Version, ids, func(i int, state []byte, _ *model.Prediction) error {
			if state == nil {
				return nil
			}
			s := f.NewState()
			if err := s.UnmarshalBinary(state); err != nil {
				return fmt.Errorf("serving: stored state of user %q: %w", ids[i], err)
			}
			o, err := s.Outcome(w)
			if errors.Is(err, features.ErrPruned) {
				return Errorf(CodeConflict, "the stored states no longer hold the days of the window (%s to %s): they keep only the retention before the latest event; measure this experiment from event files with lapse lift --events",
					w.First().Format(time.DateOnly), w.End().Format(time.DateOnly))
			}
			if err != nil {
				return fmt.Errorf("serving: outcome of user %q: %w", ids[i], err)
			}
			outs[lo+i] = lift.Outcome{Retained: o.Active, Converted: o.Converted, Revenue: o.Revenue}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	win := &lift.Window{Start: w.First(), End: w.End(), Days: w.Days(), DataThrough: now.UTC(),
		Complete: !now.Before(w.End()), Source: "states", ModelVersion: m.Version}
	rep, err := lift.Measure(exp, as, outs, &lift.MeasureOptions{Conversion: exp.TargetEvent != "", Window: win})
	if err != nil {
		return nil, Errorf(CodeConflict, "experiment %s cannot be measured: %v", exp.Name, strings.TrimPrefix(err.Error(), "lift: "))
	}
	return rep, nil
}

// featurizerOf returns the Featurizer of a model's stored spec.
func featurizerOf(m *model.Model) (*features.Featurizer, error) {
	spec, err := features.ParseSpec(m.Spec)
	if err != nil {
		return nil, fmt.Errorf("serving: model %s: feature spec: %w", m.Version, err)
	}
	f, err := features.NewFeaturizer(spec)
	if err != nil {
		return nil, fmt.Errorf("serving: model %s: %w", m.Version, err)
	}
	return f, nil
}

// parseWindowDays reads a window length: a whole number of days, with or
// without a "d" ("30", "30d"), or of weeks ("4w"), from 1 to
// features.MaxWindowDays.
func parseWindowDays(s string) (int, error) {
	num, mult := s, 1
	switch {
	case strings.HasSuffix(s, "d"):
		num = s[:len(s)-1]
	case strings.HasSuffix(s, "w"):
		num, mult = s[:len(s)-1], 7
	}
	bad := fmt.Errorf("window %q: want a whole number of days such as 30d, or of weeks such as 4w", s)
	if num == "" || len(num) > 5 {
		return 0, bad
	}
	n := 0
	for _, r := range num {
		if r < '0' || r > '9' {
			return 0, bad
		}
		n = 10*n + int(r-'0')
	}
	n *= mult
	if n < 1 || n > features.MaxWindowDays {
		return 0, fmt.Errorf("window %q: %d days, want 1 to %d", s, n, features.MaxWindowDays)
	}
	return n, nil
}
