package ca

import (
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"
)

// Revocation reasons (RFC 5280 §5.3.1) a subscriber certificate may be
// revoked for. certificateHold is left out on purpose: a revocation here is
// final, and a CRL never drops a serial before the certificate expires.
// cACompromise and aACompromise do not apply to a leaf; removeFromCRL only
// exists in delta CRLs.
var reasonCodes = map[string]int{
	"unspecified":          0,
	"keyCompromise":        1,
	"affiliationChanged":   3,
	"superseded":           4,
	"cessationOfOperation": 5,
	"privilegeWithdrawn":   9,
}

// RevocationReasons lists the reasons ReasonCode accepts, in RFC order.
func RevocationReasons() []string {
	names := make([]string, 0, len(reasonCodes))
	for name := range reasonCodes {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int { return reasonCodes[a] - reasonCodes[b] })
	return names
}

// ReasonCode returns the RFC 5280 code of a reason name; ok is false for
// any name RevocationReasons does not list.
func ReasonCode(name string) (code int, ok bool) {
	code, ok = reasonCodes[name]
	return code, ok
}

// ReasonName returns the name of an RFC 5280 reason code this CA uses, or
// "" for any other code.
func ReasonName(code int) string {
	for name, c := range reasonCodes {
		if c == code {
			return name
		}
	}
	return ""
}

// Revoked is one entry of a CRL.
type Revoked struct {
	SerialHex string // as Leaf.SerialHex
	RevokedAt time.Time
	Reason    string // a name RevocationReasons lists
}

// CRLRequest is what one CRL is signed for.
type CRLRequest struct {
	// Number is the CRL number; each CRL of an issuer must have a larger
	// one than the last (RFC 5280 §5.2.3).
	Number     int64
	ThisUpdate time.Time
	NextUpdate time.Time
	Revoked    []Revoked
}

// CRL signs a complete CRL (DER) for the authority. Entries of expired
// certificates may be left out by the caller; unspecified reasons carry no
// reasonCode extension, as RFC 5280 recommends.
func (a *Authority) CRL(req CRLRequest) ([]byte, error) {
	switch {
	case req.Number <= 0:
		return nil, fmt.Errorf("ca: crl: number %d is not positive", req.Number)
	case req.ThisUpdate.IsZero() || !req.NextUpdate.After(req.ThisUpdate):
		return nil, errors.New("ca: crl: nextUpdate must follow thisUpdate")
	}
	entries := make([]x509.RevocationListEntry, 0, len(req.Revoked))
	for _, r := range req.Revoked {
		serial, ok := new(big.Int).SetString(r.SerialHex, 16)
		if !ok || serial.Sign() <= 0 {
			return nil, fmt.Errorf("ca: crl: serial %q is not positive hex", r.SerialHex)
		}
		code, ok := ReasonCode(r.Reason)
		if !ok {
			return nil, fmt.Errorf("ca: crl: unknown revocation reason %q", r.Reason)
		}
		if r.RevokedAt.IsZero() {
			return nil, fmt.Errorf("ca: crl: serial %s has no revocation time", r.SerialHex)
		}
		entries = append(entries, x509.RevocationListEntry{SerialNumber: serial, RevocationTime: r.RevokedAt.UTC(), ReasonCode: code})
	}
	// A stable order: the same revocations give the same list.
	slices.SortFunc(entries, func(x, y x509.RevocationListEntry) int { return x.SerialNumber.Cmp(y.SerialNumber) })
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(req.Number),
		ThisUpdate:                req.ThisUpdate.UTC(),
		NextUpdate:                req.NextUpdate.UTC(),
		RevokedCertificateEntries: entries,
	}, a.Cert, a.Signer)
	if err != nil {
		return nil, fmt.Errorf("ca: crl %d: %w", req.Number, err)
	}
	return der, nil
}
