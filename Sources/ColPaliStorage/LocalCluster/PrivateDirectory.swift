import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The local cluster's directories, some in shared places (/tmp for a short
/// socket path, /var/tmp when the server account cannot reach the project):
/// another local user could create one first and put a socket of theirs in
/// front of ours. A directory is used only if it is a real directory (not a
/// link), owned by the account that runs the server or by us, and writable
/// by no one else; otherwise it is an error naming the problem.
enum PrivateDirectory {
    struct Owner {
        let uid: uid_t
        let gid: gid_t
    }

    /// Creates `path` with `mode` (the parent must exist), or checks the one
    /// that is there; then gives it to `owner`.
    static func ensure(_ path: String, owner: Owner, mode: mode_t) throws {
        if mkdir(path, mode) != 0 && errno != EEXIST {
            throw StorageError.clusterUnusable(reason: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        var info = stat()
        guard lstat(path, &info) == 0 else {
            throw StorageError.clusterUnusable(reason: "cannot inspect \(path): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw StorageError.clusterUnusable(reason: "\(path) exists and is not a directory (a link or a file): remove it")
        }
        guard info.st_uid == owner.uid || info.st_uid == geteuid() else {
            throw StorageError.clusterUnusable(
                reason: "\(path) belongs to another user (uid \(info.st_uid)), who could intercept the database: remove it")
        }
        guard info.st_mode & (S_IWGRP | S_IWOTH) == 0 else {
            throw StorageError.clusterUnusable(
                reason: "\(path) is writable by other users, who could intercept the database: remove it")
        }
        if info.st_uid != owner.uid || info.st_gid != owner.gid {
            guard chown(path, owner.uid, owner.gid) == 0 else {
                throw StorageError.clusterUnusable(reason: "cannot hand \(path) to the server account: \(String(cString: strerror(errno)))")
            }
        }
    }
}
