package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"

	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/events"
	"github.com/bazaar-shop/bazaar/internal/limit"
	"github.com/bazaar-shop/bazaar/internal/money"
)

// The basket's domain: baskets and their lines, the rules for changing them
// (quantities, stock, guest baskets) and for checking out (checkout.go), and
// their errors. The JSON API (handlers.go), the fragments (fragments.go) and
// the event handler (events.go) all call it; it knows nothing of HTTP or
// Dapr.

// MaxQuantity is the most of one product a basket may hold.
const MaxQuantity = 99

// Item is one line of a basket: a product, or one variant of it.
type Item struct {
	ProductID string `json:"productId"`
	// SKU and Variant (its label) name the variant; both are empty for a
	// product without variants.
	SKU       string      `json:"sku,omitempty"`
	Variant   string      `json:"variant,omitempty"`
	Name      string      `json:"name"`
	UnitPrice money.Money `json:"unitPrice"`
	Quantity  int         `json:"quantity"`
}

// item is the line's identity in the basket: its SKU, or the product's id.
func (it Item) item() string { return contracts.SKUOf(it.ProductID, it.SKU) }

// title names the line for people: the product, and its variant if any.
func (it Item) title() string {
	return events.Line{Name: it.Name, Variant: it.Variant}.Title()
}

// itemOf is the line for n of what sku orders of p.
func itemOf(p contracts.Product, v contracts.Variant, n int) Item {
	it := Item{ProductID: p.ID, Name: p.Name, UnitPrice: v.Price, Quantity: n}
	if v.SKU != p.ID {
		it.SKU, it.Variant = v.SKU, v.Label
	}
	return it
}

// Basket is a user's or a guest's basket, as stored and (without Merged) as
// the API shows it.
type Basket struct {
	Items []Item      `json:"items"`
	Total money.Money `json:"total"`
	// Merged are hashes of the guest baskets merged into this one.
	Merged []string `json:"merged,omitempty"`
}

// public is the basket as the API shows it (without the merge marks).
func (b Basket) public() Basket {
	b.Merged = nil
	return b
}

// withTotal returns b with its total computed from its lines.
func (b Basket) withTotal() Basket {
	if b.Items == nil {
		b.Items = []Item{}
	}
	b.Total = money.EUR(0)
	for _, it := range b.Items {
		b.Total, _ = b.Total.Plus(it.UnitPrice.Times(it.Quantity))
	}
	return b
}

// set puts quantity of item in the basket; 0 removes it.
func (b Basket) set(item Item) Basket {
	i := slices.IndexFunc(b.Items, func(it Item) bool { return it.item() == item.item() })
	switch {
	case item.Quantity == 0 && i >= 0:
		b.Items = slices.Delete(slices.Clone(b.Items), i, i+1)
	case item.Quantity == 0:
	case i >= 0:
		b.Items = slices.Clone(b.Items)
		b.Items[i] = item
	default:
		b.Items = append(slices.Clone(b.Items), item)
	}
	return b.withTotal()
}

// without takes the ordered quantities out of b.
func (b Basket) without(ordered []events.Line) Basket {
	items := make([]Item, 0, len(b.Items))
	for _, it := range b.Items {
		for _, l := range ordered {
			if l.Item() == it.item() {
				it.Quantity -= l.Quantity
			}
		}
		if it.Quantity > 0 {
			items = append(items, it)
		}
	}
	b.Items = items
	return b.withTotal()
}

// quantity is how many of a product (or variant: its SKU) the basket
// holds.
func (b Basket) quantity(sku string) int {
	for _, it := range b.Items {
		if it.item() == sku {
			return it.Quantity
		}
	}
	return 0
}

// count is how many things the basket holds, all products together.
func (b Basket) count() int {
	n := 0
	for _, it := range b.Items {
		n += it.Quantity
	}
	return n
}

// Domain errors; errors.go maps them to HTTP, once for the API and the
// fragments.
// ErrTooManyGuests: this client address started too many guest baskets
// lately; signing in, or waiting, lets it shop again.
var ErrTooManyGuests = errors.New("too many new guest baskets from this address")

var (
	// ErrUnknownProduct means catalog has no such product.
	ErrUnknownProduct = errors.New("unknown product")
	// ErrCatalogUnavailable means catalog could not be asked (down,
	// unreachable or failing): nothing was changed, and asking again later
	// may work.
	ErrCatalogUnavailable = errors.New("catalog unavailable")
	// ErrConflict means the basket changed between read and write, more
	// often than update retries.
	ErrConflict = errors.New("basket changed concurrently")
)

// InvalidError lists what is wrong with an input, by field.
type InvalidError struct{ Fields map[string]string }

func (e *InvalidError) Error() string { return fmt.Sprintf("invalid input: %v", e.Fields) }

// StockError refuses a quantity beyond the product's stock, so the customer
// learns how many they can have.
type StockError struct {
	Stock int
	// InCart is what the basket held already, when adding to it.
	InCart int
}

func (e *StockError) Error() string {
	return fmt.Sprintf("only %d in stock (%d in the basket)", e.Stock, e.InCart)
}

// LimitError refuses an addition that would take a line beyond MaxQuantity,
// saying what the basket held already.
type LimitError struct{ InCart int }

func (e *LimitError) Error() string {
	return fmt.Sprintf("at most %d of one product (%d in the basket)", MaxQuantity, e.InCart)
}

// checkQuantity refuses a line's quantity outside least..MaxQuantity (0
// takes a line out, where that is allowed).
func checkQuantity(n, least int) error {
	if n >= least && n <= MaxQuantity {
		return nil
	}
	msg := fmt.Sprintf("must be between %d and %d", least, MaxQuantity)
	if least == 0 {
		msg += " (0 removes the item)"
	}
	return &InvalidError{Fields: map[string]string{"quantity": msg}}
}

// Baskets stores baskets by owner: a user id, or guestOwner of a guest
// basket's id. store.go implements it over Dapr state.
type Baskets interface {
	// Get returns the basket (empty if there is none) and its ETag ("" if
	// there is none).
	Get(ctx context.Context, owner string) (Basket, string, error)
	// Save writes b if the basket is unchanged since Get returned etag, and
	// returns ErrConflict if it changed.
	Save(ctx context.Context, owner string, b Basket, etag string) error
}

// Catalog looks products up: baskets take names, prices and stock from it.
type Catalog interface {
	// Product returns ErrUnknownProduct for a product catalog does not
	// have, and an error wrapping ErrCatalogUnavailable when catalog cannot
	// answer.
	Product(ctx context.Context, id string) (contracts.Product, error)
}

// offer looks up what sku orders: a product without variants (by its id)
// or a product's variant. A product with variants asked for by its id is
// refused with the variants to choose from.
func offer(ctx context.Context, catalog Catalog, sku string) (contracts.Product, contracts.Variant, error) {
	p, err := catalog.Product(ctx, contracts.ProductOfSKU(sku))
	if err != nil {
		return contracts.Product{}, contracts.Variant{}, err
	}
	v, ok := p.Variant(sku)
	switch {
	case ok:
		return p, v, nil
	case sku == p.ID:
		skus := make([]string, len(p.Variants))
		for i, v := range p.Variants {
			skus[i] = v.SKU
		}
		return p, v, &InvalidError{Fields: map[string]string{"sku": "choose a variant: " + strings.Join(skus, ", ")}}
	default:
		return p, v, ErrUnknownProduct
	}
}

// Service is the basket's use cases. The JSON API, the fragments and the
// event handler share it, so each rule is written once.
type Service struct {
	// guests limits how many guest baskets one client address starts (nil:
	// no limit), so that anonymous posts cannot fill the store.
	guests    *limit.Window
	baskets   Baskets
	catalog   Catalog
	checkouts Checkouts
	handled   HandledEvents
	payments  Payments
	publisher Publisher
	log       *slog.Logger
}

// Basket is the basket of owner; "" (a visitor without a basket) has an
// empty one.
func (s *Service) Basket(ctx context.Context, owner string) (Basket, error) {
	if owner == "" {
		return Basket{}.withTotal(), nil
	}
	b, _, err := s.baskets.Get(ctx, owner)
	return b, err
}

// Set puts n of a product (or of a variant: sku is its SKU) in owner's
// basket, with its name and price from catalog; 0 takes it out.
func (s *Service) Set(ctx context.Context, owner, sku string, n int) (Basket, error) {
	return s.setLine(ctx, owner, sku, n, false)
}

// Change is Set for a line already in the basket: a product no longer in
// it (a change sent from an old page) is left out.
func (s *Service) Change(ctx context.Context, owner, sku string, n int) (Basket, error) {
	return s.setLine(ctx, owner, sku, n, true)
}

// Remove takes a product (or variant) out of owner's basket.
func (s *Service) Remove(ctx context.Context, owner, sku string) (Basket, error) {
	return s.setLine(ctx, owner, sku, 0, false)
}

func (s *Service) setLine(ctx context.Context, owner, sku string, n int, onlyPresent bool) (Basket, error) {
	if err := checkQuantity(n, 0); err != nil {
		return Basket{}, err
	}
	// A line to take out needs no catalog: it is named as the basket
	// holds it.
	item := Item{ProductID: contracts.ProductOfSKU(sku), Quantity: n}
	if sku != item.ProductID {
		item.SKU = sku
	}
	if n > 0 {
		p, v, err := offer(ctx, s.catalog, sku)
		if err != nil {
			return Basket{}, err
		}
		if n > v.Stock {
			return Basket{}, &StockError{Stock: v.Stock}
		}
		item = itemOf(p, v, n)
	}
	return s.update(ctx, owner, func(b Basket) (Basket, error) {
		if onlyPresent && b.quantity(sku) == 0 {
			return b, nil
		}
		return b.set(item), nil
	})
}

// Added is what Add did.
type Added struct {
	// Item is the product's line as the basket now holds it.
	Item Item
	// Guest is the id of the guest basket Add started for a visitor who
	// had none ("" otherwise); the visitor must keep it to find the basket.
	Guest string
}

// Add adds n of a product (or variant: sku) to owner's basket, on top of what it holds. A
// visitor without a basket (owner "") gets a new guest basket, but only
// once the addition is accepted.
//
// client is the visitor's address: each may start only so many guest
// baskets in a while (ErrTooManyGuests).
func (s *Service) Add(ctx context.Context, owner, client, sku string, n int) (Added, error) {
	if err := checkQuantity(n, 1); err != nil {
		return Added{}, err
	}
	p, v, err := offer(ctx, s.catalog, sku)
	if err != nil {
		return Added{}, err
	}
	var a Added
	if owner == "" {
		slot := map[string]string{"client": client}
		if s.guests != nil {
			if ok, err := s.guests.Take(ctx, slot); err != nil {
				return Added{}, err
			} else if !ok {
				return Added{}, ErrTooManyGuests
			}
		}
		defer func() {
			if a.Guest == "" && s.guests != nil {
				s.guests.Release(ctx, slot) // refused: no basket was made
			}
		}()
		a.Guest = newGuestID()
		owner = guestOwner(a.Guest)
	}
	if _, err := s.update(ctx, owner, func(b Basket) (Basket, error) {
		had := b.quantity(sku)
		switch total := had + n; {
		case total > v.Stock:
			return b, &StockError{Stock: v.Stock, InCart: had}
		case total > MaxQuantity:
			return b, &LimitError{InCart: had}
		default:
			a.Item = itemOf(p, v, total)
			return b.set(a.Item), nil
		}
	}); err != nil {
		a = Added{}
		return a, err
	}
	return a, nil
}

// guestIDRE is the shape of newGuestID's ids.
var guestIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)

// validGuestID reports whether id can name a guest basket (it comes from a
// cookie).
func validGuestID(id string) bool { return guestIDRE.MatchString(id) }

// guestOwner is the owner of the guest basket id in Baskets. User ids
// (hex, from identity) have no colon, so the two cannot meet.
func guestOwner(id string) string { return "guest:" + id }

// newGuestID names a new guest basket, unguessably.
func newGuestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// MergeGuest adds the lines of the guest basket (an owner from guestOwner)
// to user's basket after the visitor signed in, and empties the guest
// basket. The user's basket remembers which guest baskets it took in (by a
// hash of their owner), under its ETag, so two requests merging at once (a
// page's fragments are fetched in parallel) add the lines once and both
// show them.
func (s *Service) MergeGuest(ctx context.Context, guest, user string) error {
	g, _, err := s.baskets.Get(ctx, guest)
	if err != nil || len(g.Items) == 0 {
		return err
	}
	sum := sha256.Sum256([]byte(guest))
	mark := hex.EncodeToString(sum[:8])
	if _, err := s.update(ctx, user, func(b Basket) (Basket, error) {
		if slices.Contains(b.Merged, mark) {
			return b, nil
		}
		for _, it := range g.Items {
			it.Quantity = min(it.Quantity+b.quantity(it.item()), MaxQuantity)
			b = b.set(it)
		}
		b.Merged = append(b.Merged[max(0, len(b.Merged)-4):], mark)
		return b, nil
	}); err != nil {
		return err
	}
	// The guest basket is done with.
	_, err = s.update(ctx, guest, func(Basket) (Basket, error) { return Basket{}.withTotal(), nil })
	return err
}

// update applies change to owner's basket under optimistic concurrency,
// retrying a few times when two requests for one basket race. When change
// refuses (an error), nothing is written.
func (s *Service) update(ctx context.Context, owner string, change func(Basket) (Basket, error)) (Basket, error) {
	for range 5 {
		b, etag, err := s.baskets.Get(ctx, owner)
		if err != nil {
			return Basket{}, err
		}
		next, err := change(b)
		if err != nil {
			return Basket{}, err
		}
		err = s.baskets.Save(ctx, owner, next, etag)
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return Basket{}, err
		}
		return next, nil
	}
	return Basket{}, ErrConflict
}
