package serving

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// HealthResponse is the answer of GET /healthz and GET /readyz.
type HealthResponse struct {
	Status       string `json:"status"`
	ModelVersion string `json:"model_version,omitempty"`
}

// healthz is GET /healthz: the process answers.
func (s *Server) healthz(c *gin.Context) error {
	c.JSON(http.StatusOK, HealthResponse{Status: "ok", ModelVersion: s.ActiveVersion()})
	return nil
}

// readyz is GET /readyz: 200 once a model is loaded, else 503 no_model.
func (s *Server) readyz(c *gin.Context) error {
	a, err := s.model()
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, HealthResponse{Status: "ready", ModelVersion: a.m.Version})
	return nil
}

// serveMetrics is GET /metrics in the Prometheus text format.
func (s *Server) serveMetrics(c *gin.Context) error {
	s.metrics.handler().ServeHTTP(c.Writer, c.Request)
	return nil
}

// serveOpenAPI is GET /openapi.yaml.
func (s *Server) serveOpenAPI(c *gin.Context) error {
	c.Data(http.StatusOK, "application/yaml", openAPI)
	return nil
}
