/**
 * What every VM of the facility shares: image, network, key pair, security groups, tags.
 * Built once in index.ts and handed to each role's component.
 */
import * as pulumi from "@pulumi/pulumi";
import { VmRole } from "../config/quota";

export interface VmPlacement {
    imageId: pulumi.Input<string>;
    networkId: pulumi.Input<string>;
    /** The subnet CIDR: fixed addresses derive from it (components/network/addressing.ts). */
    subnetCidr: string;
    keyPairName: pulumi.Input<string>;
    securityGroupNames: Record<VmRole, pulumi.Input<string>>;
    securityGroupIds: Record<VmRole, pulumi.Input<string>>;
    /** The subnet: ports the program makes itself (control planes) take their fixed address on it. */
    subnetId: pulumi.Input<string>;
    /** External network name, for floating IPs. */
    externalNetwork: string;
    availabilityZone?: string;
    /** stack / environment metadata put on every server. */
    metadata: Record<string, string>;
    /** The router interface: VMs need the way out to install packages. */
    dependsOn: pulumi.Input<pulumi.Resource>[];
}
