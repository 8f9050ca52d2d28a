import Foundation
import Testing

@testable import BhattiImage

/// The real build (debootstrap from the Debian mirror, minutes on a first run), only when asked:
///
///     BHATTI_IMAGE_E2E_DIR=/tmp/bhatti-image-test BHATTI_IMAGE_E2E_LOHAR=/path/to/static-lohar \
///       swift test --filter BhattiImageTests.EndToEndTests
///
/// Boot the result with QEMU to check the initramfs (see the command in docs or the report).
@Suite struct EndToEndTests {
    static let env = ProcessInfo.processInfo.environment

    @Test(.enabled(if: env["BHATTI_IMAGE_E2E_DIR"] != nil && env["BHATTI_IMAGE_E2E_LOHAR"] != nil))
    func buildsARealImage() throws {
        let options = ImageBuildOptions(
            outputDirectory: Self.env["BHATTI_IMAGE_E2E_DIR"]!, loharPath: Self.env["BHATTI_IMAGE_E2E_LOHAR"]!,
            initSourcePath: "\(packageRoot)/guest/init.c")
        let start = ContinuousClock.now
        let manifest = try ImageBuilder.build(options) { print($0) }
        print("build took \(formatSeconds((ContinuousClock.now - start).seconds))")
        let image = try GuestImage.open(options.outputDirectory)
        #expect(image.manifest == manifest)
        #expect(manifest.modules.contains("virtio_blk"))
        #expect(manifest.packages["sudo"] != nil)
    }
}
