package serving

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lapse-dev/lapse/features"
	"github.com/lapse-dev/lapse/model"
)

// Score sources, the values of UserScore.Source.
const (
	// SourceLive means the score was computed for this request from the
	// user's stored feature state, as of the request time.
	SourceLive = "live"
	// SourceStored means the user has no usable stored state (a store
	// written without states, or a state whose spec does not match the
	// active model's), so the score is the record training stored, as of
	// the model's as-of time.
	SourceStored = "stored"
)

// UserScore is one user's score: the body of GET /v1/users/{id} and an
// item of POST /v1/scores.
//
// PAlive, ExpectedPurchases and CLV are the customer values of the
// model's BG/NBD and Gamma-Gamma part; each is null when the model has
// none, the user never purchased before AsOf, or (CLV) there is no spend
// model. In JSON the expected purchases are named after the horizon:
// expected_purchases_<HorizonDays>d, e.g. expected_purchases_30d (see
// MarshalJSON).
type UserScore struct {
	UserID              string   `json:"user_id"`
	ChurnProbability    float64  `json:"churn_probability"`
	RiskBand            string   `json:"risk_band"`
	PurchaseProbability *float64 `json:"purchase_probability"`
	Segment             string   `json:"segment"`
	RFMSegment          string   `json:"rfm_segment"`
	LifecycleStage      string   `json:"lifecycle_stage"`
	UsageTier           string   `json:"usage_tier"`
	// PAlive is BG/NBD's probability that the user is still active at AsOf.
	PAlive *float64 `json:"p_alive"`
	// ExpectedPurchases is the expected number of purchase days in the
	// HorizonDays after AsOf, encoded as expected_purchases_<H>d.
	ExpectedPurchases *float64 `json:"-"`
	// CLV is the expected discounted revenue over the model's CLV months.
	CLV          *float64       `json:"clv"`
	Reasons      []model.Reason `json:"reasons"`
	ModelVersion string         `json:"model_version"`
	// AsOf is the cutoff the features were computed at.
	AsOf time.Time `json:"as_of"`
	// Source is SourceLive or SourceStored.
	Source string `json:"source"`
	// HorizonDays is the model's horizon H, which names the expected
	// purchases in JSON; it is not a JSON field itself.
	HorizonDays int `json:"-"`
}

// expectedKey is the JSON name of the expected purchases over h days.
func expectedKey(h int) string { return "expected_purchases_" + strconv.Itoa(h) + "d" }

// MarshalJSON encodes u with its fields in declaration order and the
// expected purchases as "expected_purchases_<HorizonDays>d" between p_alive
// and clv (see appendJSON).
func (u UserScore) MarshalJSON() ([]byte, error) {
	return u.appendJSON(make([]byte, 0, 768))
}

// writeJSON writes an encoded JSON answer as gin's c.JSON would.
func writeJSON(c *gin.Context, b []byte) {
	c.Data(http.StatusOK, "application/json; charset=utf-8", b)
}

// MarshalJSON encodes the response with UserScore.appendJSON for each
// score, in one buffer.
func (r *ScoresResponse) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 64+700*len(r.Scores))
	b = append(b, `{"model_version":`...)
	b = appendJSONString(b, r.ModelVersion)
	b = append(b, `,"scores":`...)
	var err error
	if r.Scores == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, u := range r.Scores {
			if i > 0 {
				b = append(b, ',')
			}
			if u == nil {
				b = append(b, "null"...)
			} else if b, err = u.appendJSON(b); err != nil {
				return nil, err
			}
		}
		b = append(b, ']')
	}
	b = append(b, `,"unknown":`...)
	if r.Unknown == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, id := range r.Unknown {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, id)
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

// expectedKeyRe matches the JSON name of the expected purchases.
var expectedKeyRe = regexp.MustCompile(`^expected_purchases_([0-9]{1,5})d$`)

// UnmarshalJSON decodes what MarshalJSON writes, taking HorizonDays from
// the expected_purchases_<H>d key.
func (u *UserScore) UnmarshalJSON(b []byte) error {
	type plain UserScore
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return err
	}
	for k, raw := range keys {
		m := expectedKeyRe.FindStringSubmatch(k)
		if m == nil {
			continue
		}
		p.HorizonDays, _ = strconv.Atoi(m[1])
		if err := json.Unmarshal(raw, &p.ExpectedPurchases); err != nil {
			return fmt.Errorf("serving: decode user score: %s: %w", k, err)
		}
	}
	*u = UserScore(p)
	return nil
}

func newUserScore(id string, p *model.Prediction, m *model.Model, asOf time.Time, source string) *UserScore {
	reasons := p.Reasons
	if reasons == nil {
		reasons = []model.Reason{}
	}
	return &UserScore{
		UserID:              id,
		ChurnProbability:    p.ChurnProbability,
		RiskBand:            p.RiskBand,
		PurchaseProbability: p.PurchaseProbability,
		Segment:             p.Segment,
		RFMSegment:          p.RFMSegment,
		LifecycleStage:      p.LifecycleStage,
		UsageTier:           p.UsageTier,
		PAlive:              p.PAlive,
		ExpectedPurchases:   p.ExpectedPurchases,
		CLV:                 p.CLV,
		Reasons:             reasons,
		ModelVersion:        m.Version,
		AsOf:                asOf.UTC(),
		Source:              source,
		HorizonDays:         m.HorizonDays,
	}
}

// errStateSpec is returned for a user whose stored state was built under a
// feature spec that classifies events differently from the active model's.
var errStateSpec = errors.New("serving: stored state does not match the active model's feature spec")

// score computes one user's score with model a at time now. A stored state
// wins: the features are recomputed from it as of now (or, when the sender's
// clock ran ahead and the latest event is not before now, just after that
// event). Without a state the stored record is returned. It returns nil
// when neither exists.
func (a *activeModel) score(id string, state []byte, rec *model.Prediction, now time.Time) (*UserScore, error) {
	if state == nil {
		if rec == nil {
			return nil, nil
		}
		return newUserScore(id, rec, a.m, a.m.AsOf, SourceStored), nil
	}
	sc := a.scorer()
	defer a.scratch.Put(sc)
	st := sc.st
	if err := st.UnmarshalBinary(state); err != nil {
		if errors.Is(err, features.ErrSpecMismatch) {
			if rec != nil {
				return newUserScore(id, rec, a.m, a.m.AsOf, SourceStored), nil
			}
			return nil, fmt.Errorf("%w: user %q", errStateSpec, id)
		}
		return nil, fmt.Errorf("serving: user %q: %w", id, err)
	}
	asOf := now
	if last, ok := st.LastTime(); ok && !last.Before(asOf) {
		asOf = last.Add(time.Nanosecond)
	}
	x, err := a.f.AppendVector(sc.x[:0], st, asOf)
	sc.x = x
	if err != nil {
		return nil, fmt.Errorf("serving: user %q: %w", id, err)
	}
	p, err := a.m.ScoreWith(x, &sc.m)
	if err != nil {
		return nil, fmt.Errorf("serving: user %q: %w", id, err)
	}
	if p.UserValue, err = a.value(st, asOf); err != nil {
		return nil, fmt.Errorf("serving: user %q: %w", id, err)
	}
	return newUserScore(id, &p, a.m, asOf, SourceLive), nil
}

// scorer is the working memory of one score: a State to decode into, the
// feature vector and the model's scratch, reused across requests.
type scorer struct {
	st *features.State
	x  []float64
	m  model.Scratch
}

// scorer takes a scorer from the pool, or makes one.
func (a *activeModel) scorer() *scorer {
	if sc, ok := a.scratch.Get().(*scorer); ok {
		return sc
	}
	return &scorer{st: a.f.NewState()}
}

// value computes the customer values of a State as of asOf from its
// purchase days, the same numbers training stores for the same events and
// cutoff. A State decoded from the format-1 encoding after its purchases
// were folded no longer knows its purchase days: its values are null until
// the next training stores new States.
func (a *activeModel) value(st *features.State, asOf time.Time) (model.UserValue, error) {
	if a.m.Value == nil {
		return model.UserValue{}, nil
	}
	s, err := a.f.PurchaseSummary(st, asOf)
	if errors.Is(err, features.ErrPurchaseHistory) {
		return model.UserValue{}, nil
	}
	if err != nil {
		return model.UserValue{}, err
	}
	return a.m.UserValue(model.Purchases{Days: s.Days, First: s.First, Last: s.Last, RepeatRevenue: s.RepeatRevenue}, asOf)
}

// getUser is GET /v1/users/{id}.
func (s *Server) getUser(c *gin.Context) error {
	id := c.Param("id")
	if err := CheckID("user id", id); err != nil {
		return Errorf(CodeInvalid, "%v", err)
	}
	a, err := s.model()
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	var out *UserScore
	err = s.deps.Users.LoadUsers(c.Request.Context(), a.m.Version, []string{id}, func(_ int, state []byte, rec *model.Prediction) error {
		var err error
		out, err = a.score(id, state, rec, now)
		return err
	})
	if err != nil {
		return err
	}
	if out == nil {
		return Errorf(CodeNotFound, "user %q is unknown: no score for model %s and no events", id, a.m.Version)
	}
	b, err := out.appendJSON(make([]byte, 0, 768))
	if err != nil {
		return err
	}
	s.metrics.scores.Inc()
	writeJSON(c, b)
	return nil
}

// ScoresRequest is the body of POST /v1/scores.
type ScoresRequest struct {
	UserIDs []string `json:"user_ids"`
}

// ScoresResponse is the answer of POST /v1/scores: the scores of the known
// users in request order (duplicates once), and the unknown ids.
type ScoresResponse struct {
	ModelVersion string       `json:"model_version"`
	Scores       []*UserScore `json:"scores"`
	Unknown      []string     `json:"unknown"`
}

// postScores is POST /v1/scores.
func (s *Server) postScores(c *gin.Context) error {
	if err := requireJSON(c); err != nil {
		return err
	}
	body, err := readBody(c)
	if err != nil {
		return err
	}
	var req ScoresRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	if req.UserIDs == nil {
		return Errorf(CodeInvalid, "field \"user_ids\" is required")
	}
	if len(req.UserIDs) == 0 {
		return Errorf(CodeInvalid, "field \"user_ids\" is empty")
	}
	if len(req.UserIDs) > s.cfg.MaxScoreIDs {
		return Errorf(CodeTooLarge, "field \"user_ids\" has %d ids, the limit is %d per request", len(req.UserIDs), s.cfg.MaxScoreIDs)
	}
	ids := make([]string, 0, len(req.UserIDs))
	seen := make(map[string]bool, len(req.UserIDs))
	for i, id := range req.UserIDs {
		if err := CheckID(fmt.Sprintf("user_ids[%d]", i), id); err != nil {
			return Errorf(CodeInvalid, "%v", err)
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	a, err := s.model()
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	resp := ScoresResponse{ModelVersion: a.m.Version, Scores: make([]*UserScore, 0, len(ids)), Unknown: []string{}}
	err = s.deps.Users.LoadUsers(c.Request.Context(), a.m.Version, ids, func(i int, state []byte, rec *model.Prediction) error {
		sc, err := a.score(ids[i], state, rec, now)
		if err != nil {
			return err
		}
		if sc == nil {
			resp.Unknown = append(resp.Unknown, ids[i])
		} else {
			resp.Scores = append(resp.Scores, sc)
		}
		return nil
	})
	if err != nil {
		return err
	}
	b, err := resp.MarshalJSON()
	if err != nil {
		return err
	}
	s.metrics.scores.Add(float64(len(resp.Scores)))
	writeJSON(c, b)
	return nil
}

// OptOutResponse is the answer of POST /v1/users/{id}/opt-out.
type OptOutResponse struct {
	UserID   string `json:"user_id"`
	OptedOut bool   `json:"opted_out"`
}

// postOptOut is POST /v1/users/{id}/opt-out.
func (s *Server) postOptOut(c *gin.Context) error {
	id := c.Param("id")
	if err := CheckID("user id", id); err != nil {
		return Errorf(CodeInvalid, "%v", err)
	}
	if err := s.deps.Users.OptOut(c.Request.Context(), id); err != nil {
		return err
	}
	s.log.Info("user opted out", "user", id)
	c.JSON(http.StatusOK, OptOutResponse{UserID: id, OptedOut: true})
	return nil
}

// EraseResponse is the answer of DELETE /v1/users/{id}.
type EraseResponse struct {
	UserID string `json:"user_id"`
	Erased bool   `json:"erased"`
}

// deleteUser is DELETE /v1/users/{id}.
func (s *Server) deleteUser(c *gin.Context) error {
	id := c.Param("id")
	if err := CheckID("user id", id); err != nil {
		return Errorf(CodeInvalid, "%v", err)
	}
	found, err := s.deps.Users.DeleteUser(c.Request.Context(), id)
	if err != nil {
		return err
	}
	if !found {
		return Errorf(CodeNotFound, "nothing is stored about user %q", id)
	}
	s.log.Info("user erased", "user", id)
	c.JSON(http.StatusOK, EraseResponse{UserID: id, Erased: true})
	return nil
}

// requireJSON refuses bodies declared as something other than JSON. An
// absent Content-Type is accepted (curl -d sends a form type; see
// contentTypeOK).
func requireJSON(c *gin.Context) error {
	ct := c.ContentType()
	if ct == "" || ct == "application/json" || ct == "application/x-www-form-urlencoded" || ct == "text/plain" {
		return nil
	}
	return Errorf(CodeUnsupportedMedia, "Content-Type %q is not application/json", ct)
}
