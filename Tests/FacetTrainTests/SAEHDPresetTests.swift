/// `--preset cpu` is a network DeepFaceLab's SAEHD accepts (its ranges: d_mask_dims 16 to 256) and has the size the
/// README states (counted layer by layer from DeepFakeArchi: 19,249,565 parameters).
import XCTest
import FacetNN
@testable import FacetTrain

final class SAEHDPresetTests: XCTestCase {
    func testCPUPresetIsAValidSAEHDNetworkOfTheStatedSize() throws {
        let preset = SAEHDOptions(network: SAEHDOptions.cpuPreset)
        XCTAssertNoThrow(try preset.validate())
        XCTAssertEqual(preset.network, SAEHDConfig(resolution: 96, archi: "liae-ud", aeDims: 128, eDims: 32, dDims: 32,
                                                   dMaskDims: 16))
        let net = try SAEHD(config: SAEHDOptions.cpuPreset, seed: 1)
        XCTAssertEqual(net.namedParameters.reduce(0) { $0 + $1.parameter.value.count }, 19_249_565)
    }
}
