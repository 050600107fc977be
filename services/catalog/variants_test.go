package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/money"
)

// The seeded Chef's Knife comes in three lengths: 15 cm (€45, 10 in
// stock), 20 cm (€59, 25) and 24 cm (€89, 4).
const knife, smallKnife, largeKnife = "chefs-knife", "chefs-knife.15-cm", "chefs-knife.24-cm"

func variantStock(p Product) map[string]int {
	out := map[string]int{}
	for _, v := range p.Variants {
		out[v.SKU] = v.Stock
	}
	return out
}

func sku(l ReservationLine, sku string) ReservationLine {
	l.SKU = sku
	return l
}

func TestSeedVariants(t *testing.T) {
	p := newFakeProducts().items[knife]
	require.Len(t, p.Variants, 3)
	assert.Equal(t, money.EUR(4500), p.Price, "a product with variants is listed at its lowest price")
	assert.Equal(t, 39, p.Stock, "and with all its variants' stock")
	for _, v := range p.Variants {
		assert.Equal(t, knife, contracts.ProductOfSKU(v.SKU))
	}
	assert.Equal(t, "from €45.00", fromPrice(p.public()))
	assert.Equal(t, "€29.00", fromPrice(newFakeProducts().items["headlamp"].public()))
}

func TestReserveVariants(t *testing.T) {
	req := func(ls ...ReservationLine) ReservationRequest { return ReservationRequest{OrderID: "o1", Lines: ls} }
	for _, tt := range []struct {
		name   string
		req    ReservationRequest
		status string
		reason string
		want   map[string]int
	}{
		{
			name:   "two variants of one product, each from its own stock",
			req:    req(priced(sku(line(knife, 2), largeKnife), 8900), sku(line(knife, 3), smallKnife)),
			status: contracts.Reserved,
			want:   map[string]int{smallKnife: 7, "chefs-knife.20-cm": 25, largeKnife: 2},
		},
		{
			name:   "more than the variant has, though the product has plenty",
			req:    req(sku(line(knife, 5), largeKnife)),
			status: contracts.Rejected, reason: contracts.OutOfStock,
			want: map[string]int{smallKnife: 10, "chefs-knife.20-cm": 25, largeKnife: 4},
		},
		{
			name:   "at another variant's price",
			req:    req(priced(sku(line(knife, 1), largeKnife), 4500)),
			status: contracts.Rejected, reason: contracts.PriceChanged,
			want: map[string]int{smallKnife: 10, "chefs-knife.20-cm": 25, largeKnife: 4},
		},
		{
			name:   "a product with variants by its id",
			req:    req(line(knife, 1)),
			status: contracts.Rejected, reason: contracts.UnknownProduct,
			want: map[string]int{smallKnife: 10, "chefs-knife.20-cm": 25, largeKnife: 4},
		},
		{
			name:   "a variant that does not exist",
			req:    req(sku(line(knife, 1), "chefs-knife.30-cm")),
			status: contracts.Rejected, reason: contracts.UnknownProduct,
			want: map[string]int{smallKnife: 10, "chefs-knife.20-cm": 25, largeKnife: 4},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			products := newFakeProducts()
			stock := Stock{shelf: products, reservations: newFakeReservations()}
			r, err := stock.Reserve(t.Context(), tt.req)
			require.NoError(t, err)
			assert.Equal(t, tt.status, r.Status)
			assert.Equal(t, tt.reason, r.Reason)
			p := products.items[knife]
			assert.Equal(t, tt.want, variantStock(p))
			assert.Equal(t, tt.want[smallKnife]+tt.want["chefs-knife.20-cm"]+tt.want[largeKnife], p.Stock, "the product's stock is its variants'")
		})
	}

	t.Run("a release puts each variant's stock back, once", func(t *testing.T) {
		products := newFakeProducts()
		stock := Stock{shelf: products, reservations: newFakeReservations()}
		_, err := stock.Reserve(t.Context(), req(sku(line(knife, 2), largeKnife), sku(line(knife, 3), smallKnife)))
		require.NoError(t, err)
		assert.Equal(t, map[string]int{"o1/" + largeKnife: 2, "o1/" + smallKnife: 3}, products.items[knife].Holds)
		for range 2 {
			_, err = stock.Release(t.Context(), "o1")
			require.NoError(t, err)
		}
		p := products.items[knife]
		assert.Equal(t, map[string]int{smallKnife: 10, "chefs-knife.20-cm": 25, largeKnife: 4}, variantStock(p))
		assert.Equal(t, 39, p.Stock)
		assert.Empty(t, p.Holds)
	})

	t.Run("a SKU of another product is refused", func(t *testing.T) {
		stock := Stock{shelf: newFakeProducts(), reservations: newFakeReservations()}
		_, err := stock.Reserve(t.Context(), req(sku(line("headlamp", 1), largeKnife)))
		var invalid *InvalidError
		require.ErrorAs(t, err, &invalid)
		assert.Equal(t, "is not a SKU of the line's product", invalid.Fields["lines[0].sku"])
	})
	t.Run("the same variant twice is refused, two variants are not", func(t *testing.T) {
		twice := req(sku(line(knife, 1), largeKnife), sku(line(knife, 1), largeKnife))
		assert.Equal(t, "appears twice", twice.Valid(t.Context())["lines[1].productId"])
		assert.Empty(t, req(sku(line(knife, 1), largeKnife), sku(line(knife, 1), smallKnife)).Valid(t.Context()))
	})
}

func TestVariantInput(t *testing.T) {
	ten, bad := 10, -1
	valid := ProductInput{Name: "Tea Towel", Category: "kitchen", Variants: []VariantInput{
		{Label: "Blue", Price: money.EUR(900), Stock: &ten}, {Label: "Large Red", Price: money.EUR(1200), Stock: &ten}}}
	assert.Empty(t, valid.Valid(t.Context()))

	for _, tt := range []struct {
		name   string
		change func(*ProductInput)
		field  string
	}{
		{"a price of its own", func(in *ProductInput) { in.Price = money.EUR(100) }, "price"},
		{"a stock of its own", func(in *ProductInput) { in.Stock = &ten }, "stock"},
		{"two labels naming one variant", func(in *ProductInput) { in.Variants[1].Label = "blue " }, "variants[1].label"},
		{"a label without a letter", func(in *ProductInput) { in.Variants[0].Label = " - " }, "variants[0].label"},
		{"a variant without stock", func(in *ProductInput) { in.Variants[1].Stock = nil }, "variants[1].stock"},
		{"a negative stock", func(in *ProductInput) { in.Variants[1].Stock = &bad }, "variants[1].stock"},
		{"a variant without price", func(in *ProductInput) { in.Variants[0].Price = money.Money{} }, "variants[0].price.amount"},
		{"too many variants", func(in *ProductInput) {
			for range maxVariants {
				in.Variants = append(in.Variants, in.Variants[0])
			}
		}, "variants"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := valid
			in.Variants = append([]VariantInput(nil), valid.Variants...)
			tt.change(&in)
			assert.Contains(t, in.Valid(t.Context()), tt.field)
		})
	}

	t.Run("created with SKUs from the labels, listed from the lowest price", func(t *testing.T) {
		c := Catalog{products: newFakeProducts()}
		p, _, err := c.Create(t.Context(), valid)
		require.NoError(t, err)
		assert.Equal(t, []contracts.Variant{
			{SKU: "tea-towel.blue", Label: "Blue", Price: money.EUR(900), Stock: 10},
			{SKU: "tea-towel.large-red", Label: "Large Red", Price: money.EUR(1200), Stock: 10},
		}, p.Variants)
		assert.Equal(t, money.EUR(900), p.Price)
		assert.Equal(t, 20, p.Stock)
	})

	t.Run("the admin form changes one variant", func(t *testing.T) {
		products := newFakeProducts()
		c := Catalog{products: products}
		_, err := Stock{shelf: products, reservations: newFakeReservations()}.Reserve(t.Context(),
			ReservationRequest{OrderID: "o1", Lines: []ReservationLine{sku(line(knife, 1), largeKnife)}})
		require.NoError(t, err)
		p, _, err := c.SetPriceAndStock(t.Context(), largeKnife, products.etags[knife], money.EUR(9500), 7)
		require.NoError(t, err)
		assert.Equal(t, map[string]int{smallKnife: 10, "chefs-knife.20-cm": 25, largeKnife: 7}, variantStock(Product{Product: p}))
		assert.Equal(t, money.EUR(9500), p.Variants[2].Price)
		assert.Equal(t, money.EUR(4500), p.Price, "still from the lowest")
		assert.Equal(t, map[string]int{"o1/" + largeKnife: 1}, products.items[knife].Holds, "the order's hold is kept")

		_, _, err = c.SetPriceAndStock(t.Context(), "chefs-knife.30-cm", products.etags[knife], money.EUR(100), 1)
		require.ErrorIs(t, err, ErrNotFound)
		_, _, err = c.SetPriceAndStock(t.Context(), knife, products.etags[knife], money.EUR(100), 1)
		require.ErrorIs(t, err, ErrNotFound, "a product with variants is edited by variant")
	})
}

func TestRecommendFollowsTheVariant(t *testing.T) {
	all, _ := newFakeProducts().List(t.Context())
	names := func(ps []contracts.Product) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.ID)
		}
		return out
	}
	small := names(recommend(all, knife, smallKnife, 4))
	large := names(recommend(all, knife, largeKnife, 4))
	assert.Equal(t, []string{"cast-iron-skillet", "pour-over-coffee-set", "linen-apron", "walnut-cutting-board"}, small, "nearest to €45")
	assert.Equal(t, []string{"enamel-dutch-oven", "walnut-cutting-board", "cast-iron-skillet", "pour-over-coffee-set"}, large, "nearest to €89")
	assert.Equal(t, small, names(recommend(all, knife, "no-such-sku", 4)), "an unknown variant counts as the product (from its lowest price)")
}
