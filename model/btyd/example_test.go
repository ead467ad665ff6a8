package btyd_test

import (
	"fmt"

	"github.com/lapse-dev/lapse/model/btyd"
)

// The customer from Fader, Hardie & Lee (2005) and lifetimes' docs: two
// repeat purchases, the last at week 30.43, observed for 38.86 weeks, with
// the model fitted on the CDNOW sample.
func ExampleBGNBD_ExpectedPurchases() {
	p := btyd.BGNBD{R: 0.2425945, Alpha: 4.4136019, A: 0.7929199, B: 2.4258881}
	ey, err := p.ExpectedPurchases(39, 2, 30.43, 38.86)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("P(alive) %.3f\n", p.PAlive(2, 30.43, 38.86))
	fmt.Printf("expected purchases in the next 39 weeks %.3f\n", ey)
	fmt.Printf("P(no purchase in the next 13 weeks) %.3f\n", p.PNoPurchase(13, 2, 30.43, 38.86))
	// Output:
	// P(alive) 0.727
	// expected purchases in the next 39 weeks 1.226
	// P(no purchase in the next 13 weeks) 0.677
}

func ExampleCLV() {
	bg := btyd.BGNBD{R: 0.2425945, Alpha: 4.4136019, A: 0.7929199, B: 2.4258881}
	gg := btyd.GammaGamma{P: 6.25, Q: 3.74, V: 15.44}
	v, err := btyd.CLV(bg, gg, 2, 30.43, 38.86, 29.73, nil) // 12 months, 1%/month, weeks
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("12-month CLV $%.2f\n", v)
	// Output:
	// 12-month CLV $45.22
}
