package api

import "github.com/gin-gonic/gin"

// Routes lists the engine's registered routes, for the OpenAPI coverage test.
func Routes(d Deps) gin.RoutesInfo {
	s := &Server{metrics: d.Metrics, keys: newKeyCache()}
	return s.engine().Routes()
}

// KeyCacheTTL bounds how long a key revoked elsewhere still authenticates here.
const KeyCacheTTL = keyCacheTTL
