/// The loss-curve analysis FacetSelect reports: moving averages and the power-law convergence fit, on synthetic curves.
import XCTest
@testable import FacetSelect

final class ConvergenceTests: XCTestCase {
    /// A power law with a floor of 0.3, plus a small ripple.
    func syntheticCurve(_ n: Int) -> (ks: [Int], ys: [Double]) {
        let ks = Array(1...n)
        let ys = ks.map { k in 2 * pow(Double(k), -0.7) + 0.3 + 0.01 * sin(Double(k) * 1.7) }
        return (ks, ys)
    }

    func testPowerLawFitRecoversFloorAndProjectsTheTarget() throws {
        let (ks, ys) = syntheticCurve(1000)
        let fit = try XCTUnwrap(Convergence.fit(iterations: ks, losses: ys, target: 0.31))
        XCTAssertEqual(fit.floor, 0.3, accuracy: 0.02)
        XCTAssertEqual(fit.b, 0.7, accuracy: 0.15)
        // 2 * k^-0.7 = 0.01 at k = 200^(1/0.7) ~ 1944.
        let k = try XCTUnwrap(fit.targetIteration)
        // The projection is sensitive to the fitted floor (0.01 above it), so a factor-2 band.
        XCTAssertTrue((1200...4000).contains(k), "projected \(k)")
        XCTAssertFalse(fit.flattened)
        // A target under the floor is never reached.
        XCTAssertNil(Convergence.fit(iterations: ks, losses: ys, target: 0.2)!.targetIteration)
        // The same law far along has flattened: doubling from 100k gains under 1%.
        let late = Array(stride(from: 90_000, through: 100_000, by: 50))
        let lateFit = try XCTUnwrap(Convergence.fit(iterations: late, losses: late.map { 2 * pow(Double($0), -0.7) + 0.3 }))
        XCTAssertTrue(lateFit.flattened)
        // Too few points: no fit.
        XCTAssertNil(Convergence.fit(iterations: [1, 2, 3], losses: [3, 2, 1]))
    }

    func testAFitWithoutAFloorSaysSo() throws {
        let ks = Array(stride(from: 10, through: 2000, by: 10))
        let ys = ks.map { 3 * pow(Double($0), -0.3) }
        let fit = try XCTUnwrap(Convergence.fit(iterations: ks, losses: ys))
        XCTAssertEqual(fit.floor, 0, accuracy: 1e-9)
        XCTAssertEqual(fit.summary, "no floor in sight yet, still falling")
    }

    func testMovingAverage() {
        XCTAssertEqual(movingAverage([1, 2, 3, 4, 5], window: 2), [1, 1.5, 2.5, 3.5, 4.5])
        XCTAssertEqual(movingAverage([4, 4, 4], window: 10), [4, 4, 4])
    }
}
