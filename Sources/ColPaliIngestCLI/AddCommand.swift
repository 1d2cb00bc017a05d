import ArgumentParser
import ColPaliCLISupport
import ColPaliIngest
import ColPaliStorage
import Foundation
import Logging

/// `colpali-ingest add FILE|DIR...`: ingest now and exit (or only --queue).
struct AddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Ingest PDFs and images now (directories are walked), or put them on the queue with --queue.",
        discussion: "Exits non-zero when any document failed; the others are stored.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var flags: IngestFlags

    @Flag(help: "Only queue the files for a running `colpali-ingest run` daemon.")
    var queue = false

    @Argument(help: ArgumentHelp("PDF or image files, or directories.", valueName: "path"))
    var paths: [String]

    func run() async throws {
        let logger = global.logger(label: "colpali-ingest", defaultLevel: .notice)
        let files = SourceFile.expand(paths)
        guard !files.isEmpty else { throw CLIError("no PDF or image files under \(paths.joined(separator: ", "))") }
        let options = try flags.options()

        if queue {
            let optionsJSON = try flags.jobJSON()
            let database = try await global.open(.createIfNeeded, command: "colpali-ingest", logger: logger)
            try await Database.withConnection(database, logger: logger) { c in
                for file in files {
                    let uri = SourceURI.of(path: file)
                    let id = try await JobQueue.enqueue(sourceURI: uri, optionsJSON: optionsJSON, on: c, logger: logger)
                    print("queued \(file) as job \(id)")
                }
            }
            return
        }

        // The model first: a model that cannot be had creates no database.
        let model = try await modelOptions.loadModel()
        let promptFormat = try modelOptions.resolvedPromptFormat()
        let database = try await global.open(.createIfNeeded, command: "colpali-ingest", logger: logger)
        let batchSize = flags.batchSize
        let failures = try await Database.withClient(database, logger: logger) { client in
            let ingestor = Ingestor(model: model, promptFormat: promptFormat, batchSize: batchSize, client: client, logger: logger)
            let progress = ProgressBar(totalPages: files.reduce(0) { $0 + Ingestor.plannedPages($1, options: options) })
            var failures = 0
            for file in files {
                progress.beginDocument()
                let outcome = try await ingestor.ingest(path: file, options: options, progress: { step in
                    progress.update(pagesInDocument: step.pagesDone, current: step.source)
                })
                progress.finish()
                switch outcome {
                case .stored(let id, let pages):
                    print("stored \(file): document \(id), \(pages) page\(pages == 1 ? "" : "s")")
                case .addedPages:
                    print("stored \(file): \(outcome)\(options.force ? " (embedded again where stored)" : "")")
                case .alreadyStored(let id):
                    print("skipped \(file): every selected page is already stored as document \(id) (--force re-embeds)")
                case .updated(let id):
                    print("updated \(file): new title and metadata for document \(id), no page embedded")
                case .failed(_, let reason):
                    failures += 1
                    FileHandle.standardError.write(Data("colpali-ingest: failed \(file): \(reason)\n".utf8))
                }
            }
            return failures
        }
        if failures > 0 {
            throw CLIError("\(failures) of \(files.count) document\(files.count == 1 ? "" : "s") failed")
        }
    }
}
