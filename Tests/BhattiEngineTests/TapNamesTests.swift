import Testing

@testable import BhattiEngine

@Suite("Stray tap names")
struct TapNamesTests {
    @Test("only names of the form of a sandbox's tap are taken from `ip -o link show`")
    func tapNames() {
        let listing = """
            1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
            2: br0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\\    link/ether 02:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff
            3: eth0@if9: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master br0 state UP\\    link/ether 02:00:00:00:00:02 brd ff:ff:ff:ff:ff:ff link-netnsid 0
            4: t0123456789ab: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc fq_codel master br0 state DOWN\\    link/ether 9a:1b:2c:3d:4e:5f brd ff:ff:ff:ff:ff:ff
            5: tap0: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN\\    link/ether 9a:1b:2c:3d:4e:60 brd ff:ff:ff:ff:ff:ff
            6: tunnel1234567: <POINTOPOINT> mtu 1500 qdisc noop state DOWN\\    link/none
            """
        #expect(NetworkManager.tapNames(inLinkList: listing) == ["t0123456789ab"])
        #expect(NetworkManager.tapNames(inLinkList: "") == [])
        #expect(NetworkManager.tapName("0123456789abcdef") == "t0123456789ab")
    }
}
