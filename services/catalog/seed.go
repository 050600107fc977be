package main

import (
	"strings"

	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/money"
)

type seedRow struct {
	name, description string
	cents             int64
	stock             int
	// variants, where a product comes in sizes or colours; cents and
	// stock then follow from them.
	variants []seedVariant
}

type seedVariant struct {
	label string
	cents int64
	stock int
}

// seedProducts is the catalog a fresh shop starts with.
func seedProducts() []Product {
	rows := map[string][]seedRow{
		"kitchen": {
			{"Cast Iron Skillet", "A 26 cm pre-seasoned skillet that goes from hob to oven.", 3900, 40, nil},
			{"Chef's Knife", "Stainless steel blade with a riveted oak handle, in three lengths.", 0, 0, []seedVariant{
				{"15 cm", 4500, 10}, {"20 cm", 5900, 25}, {"24 cm", 8900, 4}}},
			{"Pour-Over Coffee Set", "Ceramic dripper, glass carafe and 100 filters.", 3400, 30, nil},
			{"Linen Apron", "Stonewashed linen with two deep pockets.", 0, 0, []seedVariant{
				{"Natural", 2900, 30}, {"Charcoal", 2900, 20}, {"Rust", 2900, 0}}},
			{"Walnut Cutting Board", "End-grain board, 40 × 28 cm, oiled by hand.", 6900, 15, nil},
			{"Enamel Dutch Oven", "Cast iron with an enamel glaze, for stews, bread and braises.", 0, 0, []seedVariant{
				{"3.8 litres", 9900, 8}, {"5.2 litres", 11900, 12}}},
		},
		"garden": {
			{"Pruning Shears", "Bypass shears with a forged steel blade.", 2400, 60, nil},
			{"Watering Can", "Galvanised steel, 9 litres, long spout.", 3600, 35, nil},
			{"Raised Bed Kit", "Larch planks for a 120 × 80 cm raised bed.", 8900, 10, nil},
			{"Garden Kneeler", "Foldable kneeler that doubles as a seat.", 3900, 20, nil},
			{"Seed Starter Tray", "Reusable tray with 40 cells and a lid.", 1400, 80, nil},
			{"Compost Bin", "330 litres of recycled plastic with a hatch.", 5400, 18, nil},
		},
		"workshop": {
			{"Claw Hammer", "450 g forged head, hickory handle.", 2200, 45, nil},
			{"Block Plane", "Low-angle plane with an adjustable mouth.", 7900, 14, nil},
			{"Chisel Set", "Four bevel-edge chisels from 6 to 25 mm.", 6400, 16, nil},
			{"Folding Rule", "2 m beech rule with brass joints.", 1200, 90, nil},
			{"Workbench Vise", "Cast iron vise with 100 mm jaws.", 8400, 8, nil},
			{"Tool Roll", "Waxed canvas roll with 12 pockets.", 3200, 28, nil},
		},
		"outdoor": {
			{"Trail Backpack", "Waterproof, with a hip belt and a rain cover.", 0, 0, []seedVariant{
				{"28 litres", 8900, 22}, {"38 litres", 10900, 9}}},
			{"Camping Stove", "Compact gas stove with a piezo igniter.", 4900, 26, nil},
			{"Headlamp", "350 lumen, rechargeable, red night mode.", 2900, 55, nil},
			{"Insulated Bottle", "Steel bottle that keeps drinks cold 24 hours.", 0, 0, []seedVariant{
				{"500 ml", 2200, 40}, {"750 ml", 2700, 70}, {"1 litre", 3200, 25}}},
			{"Wool Blanket", "Merino blanket, 150 × 200 cm.", 9900, 11, nil},
			{"Enamel Mug Set", "Four 350 ml mugs for the campfire.", 2600, 40, nil},
		},
	}
	var out []Product
	for _, c := range categories {
		for _, r := range rows[c] {
			id := slug(r.name)
			p := Product{Product: contracts.Product{ID: id, Name: r.name, Description: r.description, Category: c,
				Price: money.EUR(r.cents), Stock: r.stock, ImageURL: imageURL(id)}}
			for _, v := range r.variants {
				p.Variants = append(p.Variants, contracts.Variant{SKU: contracts.VariantSKU(id, slug(v.label)),
					Label: v.label, Price: money.EUR(v.cents), Stock: v.stock})
			}
			p.summarize()
			out = append(out, p)
		}
	}
	return out
}

func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r == '\'' || r == '’':
			// "Chef's" reads better as "chefs" than as "chef-s".
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}
