// Fuzz builds only (tools/fuzz.sh compiles module sources with swiftc, without SwiftPM): stands in for
// the `Bundle.module` accessor SwiftPM generates for targets with resources. Resources are not found
// through it; fuzz targets pass resource paths explicitly.
import Foundation

extension Bundle {
    static var module: Bundle { .main }
}
