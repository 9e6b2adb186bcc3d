package api

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/impactflow/impactflow/internal/store"
)

func (s *Server) me(c *gin.Context) {
	p := mustPrincipal(c)
	t, err := s.store.Tenant(c.Request.Context(), p.TenantID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"tenant": t, "key": gin.H{"id": p.KeyID, "prefix": p.Prefix, "role": p.Role}})
}

type createKeyRequest struct {
	Name string     `json:"name"`
	Role store.Role `json:"role"`
}

type createdKey struct {
	store.APIKey
	Key string `json:"key"`
}

func (s *Server) createKey(c *gin.Context) {
	var req createKeyRequest
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || len(req.Name) > 100 {
		s.fail(c, badRequest("name", "name is required, at most 100 characters"))
		return
	}
	if !req.Role.Valid() {
		s.fail(c, badRequest("role", "role must be admin, operator or viewer"))
		return
	}
	secret := store.NewKeySecret()
	k, err := s.store.CreateAPIKey(c.Request.Context(), mustPrincipal(c).TenantID, req.Name, req.Role, secret)
	if err != nil {
		s.fail(c, err)
		return
	}
	// The key is shown this once; only its hash is stored.
	c.JSON(http.StatusCreated, createdKey{APIKey: k, Key: secret})
}

func (s *Server) listKeys(c *gin.Context) {
	keys, err := s.store.APIKeys(c.Request.Context(), mustPrincipal(c).TenantID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"api_keys": keys})
}

func (s *Server) revokeKey(c *gin.Context) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		s.fail(c, store.ErrNotFound)
		return
	}
	k, err := s.store.RevokeAPIKey(c.Request.Context(), mustPrincipal(c).TenantID, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.keys.forget(k.ID)
	c.JSON(http.StatusOK, k)
}
