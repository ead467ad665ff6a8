package serving

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// ModelsResponse is the answer of GET /v1/models.
type ModelsResponse struct {
	// Active is the version requests are scored with ("" when none).
	Active string `json:"active"`
	// Models lists every stored version, newest first.
	Models []ModelInfo `json:"models"`
}

// getModels is GET /v1/models.
func (s *Server) getModels(c *gin.Context) error {
	list, err := s.deps.Models.ListModels(c.Request.Context())
	if err != nil {
		return err
	}
	if list == nil {
		list = []ModelInfo{}
	}
	c.JSON(http.StatusOK, ModelsResponse{Active: s.ActiveVersion(), Models: list})
	return nil
}

// ActivateResponse is the answer of POST /v1/models/{version}/activate.
type ActivateResponse struct {
	Active   string `json:"active"`
	Previous string `json:"previous"`
}

// postActivate is POST /v1/models/{version}/activate. The new model is
// loaded and checked before the store's active pointer moves, and swapped
// in afterwards with one atomic store: requests that already loaded the
// previous model finish with it, later ones use the new one.
func (s *Server) postActivate(c *gin.Context) error {
	version := c.Param("version")
	if err := CheckID("model version", version); err != nil {
		return Errorf(CodeInvalid, "%v", err)
	}
	ctx := c.Request.Context()
	s.activeMu.Lock()
	defer s.activeMu.Unlock()
	m, err := s.deps.Models.Model(ctx, version)
	if err != nil {
		return err
	}
	if m == nil {
		return Errorf(CodeNotFound, "no stored model version %q; GET /v1/models lists them", version)
	}
	a, err := newActive(m)
	if err != nil {
		return err
	}
	if err := s.deps.Models.Activate(ctx, version); err != nil {
		return err
	}
	prev := s.ActiveVersion()
	s.active.Store(a)
	s.metrics.setModel(version)
	s.log.Info("model activated", "model_version", version, "previous", prev)
	c.JSON(http.StatusOK, ActivateResponse{Active: version, Previous: prev})
	return nil
}
