import ArgumentParser
import ColPaliStorage
import Foundation

/// Which collection (and tenant) a command works in.
public struct CollectionOptions: ParsableArguments {
    public init() {}

    @Option(name: .customLong("collection"), help: ArgumentHelp(
        "Collection to work in. Default: $COLPALI_COLLECTION, else default.", valueName: "name"))
    public var explicitCollection: String?

    @Option(help: ArgumentHelp("Only this tenant's documents. Default: $COLPALI_TENANT, else every tenant.", valueName: "name"))
    public var tenant: String?

    public var collection: String {
        explicitCollection ?? ProcessInfo.processInfo.environment["COLPALI_COLLECTION"].flatMap { $0.isEmpty ? nil : $0 }
            ?? Collection.defaultName
    }

    public var resolvedTenant: String? {
        tenant ?? ProcessInfo.processInfo.environment["COLPALI_TENANT"].flatMap { $0.isEmpty ? nil : $0 }
    }

    public func validate() throws {
        guard Collection.isValidName(collection) else {
            throw ValidationError("'\(collection)' is not a collection name (letters, digits, '_', '.', '-')")
        }
    }
}
