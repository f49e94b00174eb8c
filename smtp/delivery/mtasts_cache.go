package delivery

import (
	"context"
	"sync"
	"time"
)

// CachedSTSPolicy is a policy as a cache keeps it (RFC 8461 section 5.1).
type CachedSTSPolicy struct {
	Policy *STSPolicy
	// ID is the id of the TXT record the policy was fetched for.
	ID string
	// Fetched is when it was fetched; the policy is valid until
	// Fetched + Policy.MaxAge.
	Fetched time.Time
}

// Expired reports whether the policy's max_age (RFC 8461 section 3.2) has
// passed at now.
func (c *CachedSTSPolicy) Expired(now time.Time) bool {
	return !now.Before(c.Fetched.Add(c.Policy.MaxAge))
}

// STSCache stores MTA-STS policies between deliveries (RFC 8461 section
// 5.1), by lower-case domain. Implementations must be safe for concurrent
// use. Get may return an expired entry; the Deliverer ignores those.
type STSCache interface {
	Get(ctx context.Context, domain string) (*CachedSTSPolicy, bool)
	Put(ctx context.Context, domain string, p *CachedSTSPolicy)
}

// MemorySTSCache is an in-memory STSCache. Get drops entries whose
// max_age has passed. The zero value is ready to use.
type MemorySTSCache struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu sync.Mutex
	m  map[string]*CachedSTSPolicy
}

// Get returns the unexpired policy of domain (RFC 8461 section 5.1).
func (c *MemorySTSCache) Get(_ context.Context, domain string) (*CachedSTSPolicy, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.m[domain]
	if !ok {
		return nil, false
	}
	if p.Expired(c.now()) {
		delete(c.m, domain)
		return nil, false
	}
	return p, true
}

// Put stores the policy of domain, replacing any earlier one (RFC 8461
// section 5.1: a newer policy replaces the cached one).
func (c *MemorySTSCache) Put(_ context.Context, domain string, p *CachedSTSPolicy) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]*CachedSTSPolicy)
	}
	c.m[domain] = p
}

func (c *MemorySTSCache) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}
