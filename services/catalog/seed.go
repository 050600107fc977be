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
}

// seedProducts is the catalog a fresh shop starts with.
func seedProducts() []Product {
	rows := map[string][]seedRow{
		"kitchen": {
			{"Cast Iron Skillet", "A 26 cm pre-seasoned skillet that goes from hob to oven.", 3900, 40},
			{"Chef's Knife", "20 cm stainless steel blade with a riveted oak handle.", 5900, 25},
			{"Pour-Over Coffee Set", "Ceramic dripper, glass carafe and 100 filters.", 3400, 30},
			{"Linen Apron", "Stonewashed linen with two deep pockets.", 2900, 50},
			{"Walnut Cutting Board", "End-grain board, 40 × 28 cm, oiled by hand.", 6900, 15},
			{"Enamel Dutch Oven", "5.2 litres, for stews, bread and braises.", 11900, 12},
		},
		"garden": {
			{"Pruning Shears", "Bypass shears with a forged steel blade.", 2400, 60},
			{"Watering Can", "Galvanised steel, 9 litres, long spout.", 3600, 35},
			{"Raised Bed Kit", "Larch planks for a 120 × 80 cm raised bed.", 8900, 10},
			{"Garden Kneeler", "Foldable kneeler that doubles as a seat.", 3900, 20},
			{"Seed Starter Tray", "Reusable tray with 40 cells and a lid.", 1400, 80},
			{"Compost Bin", "330 litres of recycled plastic with a hatch.", 5400, 18},
		},
		"workshop": {
			{"Claw Hammer", "450 g forged head, hickory handle.", 2200, 45},
			{"Block Plane", "Low-angle plane with an adjustable mouth.", 7900, 14},
			{"Chisel Set", "Four bevel-edge chisels from 6 to 25 mm.", 6400, 16},
			{"Folding Rule", "2 m beech rule with brass joints.", 1200, 90},
			{"Workbench Vise", "Cast iron vise with 100 mm jaws.", 8400, 8},
			{"Tool Roll", "Waxed canvas roll with 12 pockets.", 3200, 28},
		},
		"outdoor": {
			{"Trail Backpack", "28 litres, waterproof, with a hip belt.", 8900, 22},
			{"Camping Stove", "Compact gas stove with a piezo igniter.", 4900, 26},
			{"Headlamp", "350 lumen, rechargeable, red night mode.", 2900, 55},
			{"Insulated Bottle", "750 ml steel bottle, keeps cold 24 hours.", 2700, 70},
			{"Wool Blanket", "Merino blanket, 150 × 200 cm.", 9900, 11},
			{"Enamel Mug Set", "Four 350 ml mugs for the campfire.", 2600, 40},
		},
	}
	var out []Product
	for _, c := range categories {
		for _, r := range rows[c] {
			id := slug(r.name)
			out = append(out, Product{Product: contracts.Product{ID: id, Name: r.name, Description: r.description, Category: c,
				Price: money.EUR(r.cents), Stock: r.stock, ImageURL: imageURL(id)}})
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
