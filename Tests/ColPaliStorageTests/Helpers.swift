import TestSupport

typealias TestSupportPaths = RepositoryPaths
