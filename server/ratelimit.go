package server

import (
	"math"
	"net/http"
	"strconv"
	"sync"

	"github.com/connvault/connvault/gen"
	"golang.org/x/time/rate"
)

// rateLimiter gives every API key its own token bucket, so one client (or
// a script hammering POST .../test, which calls providers) cannot starve
// the others or get provider accounts locked. Buckets live in this
// process: with N replicas a key gets up to N times the rate.
type rateLimiter struct {
	limit rate.Limit
	burst int
	mu    sync.Mutex
	keys  map[[32]byte]*rate.Limiter
}

// maxRateLimitedKeys bounds the map; past it, buckets start over.
const maxRateLimitedKeys = 100_000

func newRateLimiter(perSecond float64, burst int) *rateLimiter {
	if perSecond <= 0 {
		return nil
	}
	if burst < 1 {
		burst = int(math.Max(1, 2*perSecond))
	}
	return &rateLimiter{limit: rate.Limit(perSecond), burst: burst, keys: map[[32]byte]*rate.Limiter{}}
}

// allow takes a token for the key hash, or says how long to wait.
func (l *rateLimiter) allow(key [32]byte) (bool, int) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	lim, ok := l.keys[key]
	if !ok {
		if len(l.keys) >= maxRateLimitedKeys {
			l.keys = map[[32]byte]*rate.Limiter{}
		}
		lim = rate.NewLimiter(l.limit, l.burst)
		l.keys[key] = lim
	}
	l.mu.Unlock()
	if lim.Allow() {
		return true, 0
	}
	return false, int(math.Ceil(1 / float64(l.limit)))
}

func tooManyRequests(retryAfter int) *apiError {
	return &apiError{Status: http.StatusTooManyRequests, Type: gen.ErrorBodyTypeTooManyRequestsError,
		Message:    "too many requests for this API key; retry after " + strconv.Itoa(retryAfter) + "s",
		retryAfter: retryAfter}
}
