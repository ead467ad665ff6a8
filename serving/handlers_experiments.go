package serving

import (
	"context"
	"encoding/csv"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/lapse-dev/lapse/model"
	"github.com/lapse-dev/lapse/model/lift"
)

// ExperimentsResponse is the answer of GET /v1/experiments.
type ExperimentsResponse struct {
	// Experiments lists every experiment, by name.
	Experiments []lift.Experiment `json:"experiments"`
}

// experiments returns the experiment store or the 503 that says there is
// none.
func (s *Server) experiments() (ExperimentStore, error) {
	if s.deps.Experiments == nil {
		return nil, Errorf(CodeUnavailable, "this server has no experiment store")
	}
	return s.deps.Experiments, nil
}

// creator is the ExperimentCreator of a request: the server's loaded
// model and its stores.
type creator struct {
	m *model.Model
	SegmentStore
	ExperimentStore
}

func (c creator) ActiveModel(context.Context) (*model.Model, error) { return c.m, nil }

// postExperiment is POST /v1/experiments.
func (s *Server) postExperiment(c *gin.Context) error {
	exps, err := s.experiments()
	if err != nil {
		return err
	}
	if ct := c.ContentType(); ct != "" && ct != "application/json" {
		return Errorf(CodeUnsupportedMedia, "Content-Type %q is not application/json", ct)
	}
	body, err := readBody(c)
	if err != nil {
		return err
	}
	var req ExperimentRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	a, err := s.model()
	if err != nil {
		return err
	}
	res, _, err := CreateExperiment(c.Request.Context(), creator{a.m, s.deps.Segments, exps}, &req, s.cfg.Now())
	if err != nil {
		return err
	}
	e := &res.Experiment
	s.log.Info("experiment created", "experiment", e.Name, "model_version", e.ModelVersion, "treatment", e.Treatment,
		"control", e.Control, "suppressed", res.Suppressed)
	c.JSON(http.StatusCreated, res)
	return nil
}

// getExperiments is GET /v1/experiments.
func (s *Server) getExperiments(c *gin.Context) error {
	exps, err := s.experiments()
	if err != nil {
		return err
	}
	list, err := exps.ListExperiments(c.Request.Context())
	if err != nil {
		return err
	}
	if list == nil {
		list = []lift.Experiment{}
	}
	c.JSON(http.StatusOK, ExperimentsResponse{Experiments: list})
	return nil
}

// experimentParam checks the {name} of the path and loads the experiment:
// 400 for a malformed name, 404 when none is stored.
func (s *Server) experimentParam(c *gin.Context) (ExperimentStore, *lift.Experiment, error) {
	exps, err := s.experiments()
	if err != nil {
		return nil, nil, err
	}
	name := c.Param("name")
	if err := lift.CheckName(name); err != nil {
		return nil, nil, Errorf(CodeInvalid, "%s", strings.TrimPrefix(err.Error(), "lift: "))
	}
	exp, err := exps.Experiment(c.Request.Context(), name)
	if err != nil {
		return nil, nil, err
	}
	if exp == nil {
		return nil, nil, Errorf(CodeNotFound, "no experiment %q; GET /v1/experiments lists them", name)
	}
	return exps, exp, nil
}

// getExperiment is GET /v1/experiments/{name}.
func (s *Server) getExperiment(c *gin.Context) error {
	_, exp, err := s.experimentParam(c)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, exp)
	return nil
}

// postStopExperiment is POST /v1/experiments/{name}/stop: the experiment
// stays stored, but its control users are no longer suppressed.
func (s *Server) postStopExperiment(c *gin.Context) error {
	exps, exp, err := s.experimentParam(c)
	if err != nil {
		return err
	}
	if exp.Active {
		if err := exps.SetExperimentActive(c.Request.Context(), exp.Name, false); err != nil {
			return err
		}
		exp.Active = false
		s.log.Info("experiment stopped", "experiment", exp.Name)
	}
	c.JSON(http.StatusOK, exp)
	return nil
}

// loadAssignments copies every assignment of an experiment out of the
// store's read transaction.
func loadAssignments(ctx context.Context, exps ExperimentStore, name string) ([]lift.Assignment, error) {
	var as []lift.Assignment
	err := exps.EachAssignment(ctx, name, func(a *lift.Assignment) error {
		as = append(as, *a)
		return nil
	})
	return as, err
}

// getAssignments is GET /v1/experiments/{name}/assignments: CSV with the
// header user_id,group. ?group=treatment is the campaign's send list: the
// treatment users not suppressed now (opted out since, in the global
// control group, or held out by another active experiment); group=control
// lists the control users; the default, all, is the stored membership.
func (s *Server) getAssignments(c *gin.Context) error {
	group := c.DefaultQuery("group", "all")
	if !slices.Contains([]string{"all", string(lift.Treatment), string(lift.Control)}, group) {
		return Errorf(CodeInvalid, "query parameter \"group\" must be all, treatment or control")
	}
	if accept := c.GetHeader("Accept"); accept != "" && c.NegotiateFormat("text/csv") == "" {
		return Errorf(CodeNotAcceptable, "this route answers text/csv, not %q", accept)
	}
	exps, exp, err := s.experimentParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	as, err := loadAssignments(ctx, exps, exp.Name)
	if err != nil {
		return err
	}
	if group != "all" {
		as = slices.DeleteFunc(as, func(a lift.Assignment) bool { return string(a.Group) != group })
	}
	if group == string(lift.Treatment) {
		keep := as[:0]
		ids := make([]string, 0, scanChunk)
		sup := make([]bool, scanChunk)
		for lo := 0; lo < len(as); lo += scanChunk {
			chunk := as[lo:min(lo+scanChunk, len(as))]
			ids = ids[:0]
			for i := range chunk {
				ids = append(ids, chunk[i].UserID)
			}
			if err := s.deps.Segments.Suppressed(ctx, ids, sup[:len(ids)]); err != nil {
				return err
			}
			for i := range chunk {
				if !sup[i] {
					keep = append(keep, chunk[i])
				}
			}
		}
		as = keep
	}
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="`+exp.Name+`-`+group+`.csv"`)
	c.Status(http.StatusOK)
	w := csv.NewWriter(c.Writer)
	w.Write([]string{"user_id", "group"})
	for i := range as {
		w.Write([]string{as[i].UserID, string(as[i].Group)})
	}
	w.Flush()
	return nil // a write error means the client went away
}

// getLift is GET /v1/experiments/{name}/lift?window=30d: the lift report
// from the states stored under the active model.
func (s *Server) getLift(c *gin.Context) error {
	days := DefaultLiftWindow
	if v, ok := c.GetQuery("window"); ok {
		n, err := parseWindowDays(v)
		if err != nil {
			return Errorf(CodeInvalid, "query parameter \"window\": %v", err)
		}
		days = n
	}
	exps, exp, err := s.experimentParam(c)
	if err != nil {
		return err
	}
	a, err := s.model()
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	as, err := loadAssignments(ctx, exps, exp.Name)
	if err != nil {
		return err
	}
	rep, err := LiftFromStates(ctx, s.deps.Users, a.m, exp, as, days, s.cfg.Now())
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, rep)
	return nil
}
